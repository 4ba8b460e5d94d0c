"""`bench voice`'s all-cores density: one density process per core, measured together.

A worker host runs one worker process per core (`callcenter worker --processes N`), so the
host's figure is what N processes carry at once, not N times what one carries alone (they
share caches, memory bandwidth and the kernel). Each step starts N child processes of this
module; each prepares its calls' audio, says `ready`, and waits. When every child is
ready the parent says `go` to all of them in the same instant, so their measuring windows
coincide; each runs one `bench_density_step` of its share of the calls and prints it as
JSON. The step's verdict is the worst child's late frames and overhead, over the calls of
all of them.

Run by hand (what the parent runs):
    python -m callcenter.bench.voice_cores --calls 150 --seconds 5 --room local
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from callcenter.bench.rooms import ROOM_MODES, RoomMode, check_room_mode

Progress = Callable[[str], None]
READY, GO, RESULT = "ready", "go", "result "
# A child imports the engine and synthesizes its lines before it is ready; on a loaded host
# that is tens of seconds at worst.
_READY_TIMEOUT_S = 180.0
# Totals per step (all processes together); the target for a 2-core host is 300.
QUICK_TOTALS = (100, 200, 300, 400)
FULL_TOTALS = (100, 200, 300, 400, 500, 600)


def default_processes() -> int:
    """One process per core this process may run on (what `worker --processes` defaults to
    on a machine with no CPU affinity set)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def split_calls(total: int, processes: int) -> list[int]:
    """`total` calls over `processes` children, as evenly as possible."""
    if processes < 1:
        raise ValueError(f"--processes must be at least 1, not {processes}")
    if total < processes:
        raise ValueError(f"{total} calls cannot be spread over {processes} processes: "
                         "give at least one call per process")
    q, r = divmod(total, processes)
    return [q + (i < r) for i in range(processes)]


def child_command(calls: int, seconds: float, room_mode: RoomMode,
                  escalated_pct: float = 0.0) -> list[str]:
    """The command line of one density child (the room mode passes straight through)."""
    return [sys.executable, "-m", "callcenter.bench.voice_cores", "--calls", str(calls),
            "--seconds", f"{seconds:g}", "--room", room_mode,
            "--escalated-pct", f"{escalated_pct:g}"]


class _Child:
    def __init__(self, proc: asyncio.subprocess.Process, log: IO[bytes]) -> None:
        self.proc, self.log = proc, log

    async def line(self) -> str:
        assert self.proc.stdout is not None
        return (await self.proc.stdout.readline()).decode().strip()

    def failure(self, what: str) -> RuntimeError:
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace")[-2000:]
        return RuntimeError(f"density child (pid {self.proc.pid}) {what}; its stderr:\n{tail}")


async def _spawn(cmd: Sequence[str]) -> _Child:
    # stderr to a file, not a pipe: a chatty child must never block on a full pipe.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by all_cores_step
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log)
    return _Child(proc, log)


async def _await_ready(child: _Child) -> None:
    while True:
        line = await child.line()
        if line == READY:
            return
        if not line and child.proc.stdout is not None and child.proc.stdout.at_eof():
            raise child.failure("exited before it was ready")


async def _await_result(child: _Child) -> dict[str, Any]:
    while True:
        line = await child.line()
        if line.startswith(RESULT):
            out: dict[str, Any] = json.loads(line[len(RESULT):])
            return out
        if not line and child.proc.stdout is not None and child.proc.stdout.at_eof():
            raise child.failure("exited without a result")


async def all_cores_step(total: int, processes: int, seconds: float, room_mode: RoomMode,
                         escalated_pct: float = 0.0) -> dict[str, Any]:
    """One step: `total` calls over `processes` children measured over one window."""
    shares = split_calls(total, processes)
    children = [await _spawn(child_command(k, seconds, room_mode, escalated_pct))
                for k in shares]
    try:
        try:
            await asyncio.wait_for(asyncio.gather(*(_await_ready(c) for c in children)),
                                   _READY_TIMEOUT_S)
        except TimeoutError:
            load = os.getloadavg()[0]
            raise RuntimeError(
                f"{processes} density children were not ready after {_READY_TIMEOUT_S:g} s "
                f"(load average {load:.1f}): the host is too busy to measure; run again "
                "when it is idle, or with fewer --processes") from None
        t0 = time.monotonic()
        for c in children:  # the same instant for all: their windows coincide
            assert c.proc.stdin is not None
            c.proc.stdin.write(f"{GO}\n".encode())
        await asyncio.gather(*(c.proc.stdin.drain() for c in children
                               if c.proc.stdin is not None))
        parts = await asyncio.gather(*(_await_result(c) for c in children))
        wall = time.monotonic() - t0
    finally:
        for c in children:
            if c.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    c.proc.kill()
            await c.proc.wait()
            c.log.close()
    return combine(list(parts), wall_s=wall)


def _max(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def combine(parts: list[dict[str, Any]], *, wall_s: float | None = None) -> dict[str, Any]:
    """The processes' steps as one step of the host: calls, turns and frames summed, the
    worst late-frame share and overhead, CPU in % of one core summed over processes."""
    frames = sum(p["frames"] for p in parts)
    late = sum(p["late_frame_pct"] * p["frames"] / 100.0 for p in parts)
    calls = sum(p["calls"] for p in parts)
    rss = round(sum(p["rss_mb"] for p in parts), 1)
    step: dict[str, Any] = {
        "calls": calls,
        "processes": len(parts),
        # The verdict's figure: the worst process (a call on it is as late as that).
        "late_frame_pct": max(p["late_frame_pct"] for p in parts),
        "late_frame_pct_all": round(100.0 * late / frames, 3) if frames else 100.0,
        "cpu_pct": round(sum(p["cpu_pct"] for p in parts), 1),
        "rss_mb": rss,
        "rss_per_call_mb": _max([p["rss_per_call_mb"] for p in parts]),
        "turn_overhead_p50_ms": _max([p["turn_overhead_p50_ms"] for p in parts]),
        "turn_overhead_p99_ms": _max([p["turn_overhead_p99_ms"] for p in parts]),
        "turns": sum(p["turns"] for p in parts),
        "frames": frames,
        "failed_calls": sum(p["failed_calls"] for p in parts),
        "per_process": [{k: p[k] for k in ("calls", "late_frame_pct", "cpu_pct", "rss_mb",
                                           "turn_overhead_p99_ms", "turns")} for p in parts],
    }
    if wall_s is not None:
        step["wall_s"] = round(wall_s, 1)
    for key in ("escalated_calls", "taken_over", "supervisor_lines_transcribed",
                "agent_heard_while_escalated"):
        if any(key in p for p in parts):
            step[key] = sum(p.get(key, 0) for p in parts)
    return step


async def bench_density_all_cores(
    totals: Sequence[int], seconds: float, progress: Progress, *, processes: int,
    room_mode: RoomMode = "local", escalated_pct: float = 0.0,
    max_late_pct: float, max_overhead_ms: float, path_ms: float | None = None,
) -> dict[str, Any]:
    """Steps of `totals` calls over `processes` processes, smallest first; stops after the
    first step that fails (a bigger one would only load the host further).

    A media path is judged on the overhead beyond its own transit, `path_ms` (what the
    one-process phase calibrated in the same run; None: no step passes, as there)."""
    from callcenter.bench.harness import REALISTIC

    steps: dict[str, Any] = {}
    max_calls = 0
    media = room_mode != "local"
    for total in sorted(t for t in totals if t >= processes):
        progress(f"density, all cores ({processes} processes, {room_mode} room): {total} "
                 f"calls for {seconds:g} s")
        step = await all_cores_step(total, processes, seconds, room_mode, escalated_pct)
        steps[str(total)] = step
        p99 = step["turn_overhead_p99_ms"]
        if media:  # as in `bench_density`: the path's own transit is not overhead
            p99 = None if p99 is None or path_ms is None else round(p99 - path_ms, 2)
            step["added_overhead_p99_ms"] = p99
        passed = (step["late_frame_pct"] < max_late_pct and step["failed_calls"] == 0
                  and p99 is not None and p99 < max_overhead_ms)
        step["passed"] = passed
        if not passed:
            break
        max_calls = total
    block: dict[str, Any] = {"room": room_mode, "processes": processes, "steps": steps,
                             "max_calls": max_calls,
                             "lead_ms": 1000.0 * REALISTIC.after_commit}
    if steps:
        largest = steps[max(steps, key=int)]
        block["rss_per_call_mb"] = largest["rss_per_call_mb"]
    if media:
        block["path_ms"] = path_ms
    if escalated_pct:
        block["escalated_pct"] = escalated_pct
    return block


async def all_cores_phases(quick: bool, seconds: float, progress: Progress, *,
                           processes: int, room_mode: RoomMode, escalated_pct: float,
                           path_ms: float | None) -> dict[str, Any]:
    """The blocks `run_voice_bench` adds: `density_all_cores` (local room); with a media
    path `density_<room>_all_cores` too (judged beyond `path_ms`); in a full run with an
    escalated share, `density_escalated_all_cores`."""
    from callcenter.bench.voice import MAX_DENSITY_OVERHEAD_MS, MAX_LATE_PCT

    totals = QUICK_TOTALS if quick else FULL_TOTALS
    runs: list[tuple[str, RoomMode, float]] = [("density_all_cores", "local", 0.0)]
    if room_mode != "local":
        runs.append((f"density_{room_mode}_all_cores", room_mode, 0.0))
    if escalated_pct and not quick:
        runs.append(("density_escalated_all_cores", "local", escalated_pct))
    out: dict[str, Any] = {}
    for key, mode, pct in runs:
        out[key] = await bench_density_all_cores(
            totals, seconds, progress, processes=processes, room_mode=mode,
            escalated_pct=pct, max_late_pct=MAX_LATE_PCT,
            max_overhead_ms=MAX_DENSITY_OVERHEAD_MS, path_ms=path_ms)
    return out


# ---------------------------------------------------------------------- the child


async def _child(calls: int, seconds: float, room_mode: RoomMode, escalated_pct: float) -> None:
    from callcenter.bench.harness import LONG_ASK, SHORT_LINES, STOP_LINE
    from callcenter.bench.voice import bench_density_step
    from callcenter.bench.voice_mix import MIX_LINES
    from callcenter.testing.voices import CallerVoice
    from callcenter.voice.runtime import realtime_process

    voice = CallerVoice("espeak", "phone")
    for line in (*SHORT_LINES, LONG_ASK, STOP_LINE, *MIX_LINES):
        voice.speak(line)  # before the clock starts, as the one-process bench does
    realtime_process()
    print(READY, flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip() != GO:
        raise SystemExit(f"expected {GO!r} on stdin, got {line.strip()!r}")
    step = await bench_density_step(calls, seconds, voice, room_mode, escalated_pct)
    print(RESULT + json.dumps(step), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m callcenter.bench.voice_cores",
        description="One density process of `bench voice`'s all-cores phase: prints "
        f"{READY!r}, waits for {GO!r} on stdin, runs one density step, prints its JSON.")
    p.add_argument("--calls", type=int, required=True, help="calls in this process")
    p.add_argument("--seconds", type=float, default=5.0, help="measuring window (s)")
    p.add_argument("--room", default="local", help=f"one of {', '.join(ROOM_MODES)}")
    p.add_argument("--escalated-pct", type=float, default=0.0,
                   help="share of calls with a supervisor talking (0-100)")
    a = p.parse_args(argv)
    try:
        room = check_room_mode(a.room)
    except ValueError as exc:
        p.error(str(exc))
    if a.calls < 1:
        p.error(f"--calls must be at least 1, not {a.calls}")
    if not 0.0 <= a.escalated_pct <= 100.0:
        p.error(f"--escalated-pct must be between 0 and 100, not {a.escalated_pct:g}")
    asyncio.run(_child(a.calls, a.seconds, room, a.escalated_pct))


if __name__ == "__main__":
    main()
