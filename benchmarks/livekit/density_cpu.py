"""CPU per call of `bench voice`'s density step, by thread: where a call's CPU goes.

    .venv/bin/python benchmarks/livekit/density_cpu.py --calls 10 30 --room livekit local

Each (room, calls) runs one `bench_density_step` in a fresh process (as the bench's
all-cores children do: lines synthesized first, `realtime_process()`), and reads every
thread's CPU time from /proc over the step's measuring window. It prints the step's
verdict figures, CPU-seconds per call-second (process CPU / (calls x window)) and the
CPU by thread name (the event loop is MainThread; the VAD's batch thread `vad*`; the
native runtime's threads are livekit.rtc's and WebRTC's).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # native_events.py, a sibling

from loopback import _thread_cpu as thread_cpu  # the sibling, on the path above


def _group(name: str) -> str:
    """Threads of one pool under one name (`asyncio_3` -> `asyncio_*`)."""
    head, _, tail = name.rpartition("_")
    if head and tail.isdigit():
        return head + "_*"
    return name.rstrip("0123456789") + "*" if name[-1:].isdigit() else name


async def _measure(calls: int, seconds: float, room: str) -> dict[str, Any]:
    from callcenter.bench.harness import LONG_ASK, SHORT_LINES, STOP_LINE
    from callcenter.bench.voice import WARMUP_S, bench_density_step
    from callcenter.testing.voices import CallerVoice
    from callcenter.voice.runtime import realtime_process

    voice = CallerVoice("espeak", "phone")
    for line in (*SHORT_LINES, LONG_ASK, STOP_LINE):
        voice.speak(line)
    realtime_process()
    if os.environ.get("CALLCENTER_NATIVE_EVENTS") == "1":  # native_events.py's experiment
        from native_events import install

        install(asyncio.get_running_loop())
    snaps: list[tuple[float, float, dict[str, float]]] = []

    async def window() -> None:
        # The step counts from WARMUP_S + 0.3 s after its calls start (see bench_density_step).
        await asyncio.sleep(WARMUP_S + 0.3)
        snaps.append((time.monotonic(), time.process_time(), thread_cpu()))
        await asyncio.sleep(seconds)
        snaps.append((time.monotonic(), time.process_time(), thread_cpu()))

    # Making a step's native objects comes first (before its calls start): the window
    # timer starts after that, at the first call's start, close enough to the step's own.
    timer = asyncio.get_running_loop().create_task(window())
    step = await bench_density_step(calls, seconds, voice, room)  # type: ignore[arg-type]
    await timer
    (w0, p0, t0), (w1, p1, t1) = snaps
    wall = w1 - w0
    by_thread: collections.defaultdict[str, float] = collections.defaultdict(float)
    for name, v in t1.items():
        by_thread[_group(name)] += v - t0.get(name, 0.0)
    return {
        "room": room, "calls": calls, "window_s": round(wall, 2),
        "late_frame_pct": step["late_frame_pct"], "cpu_pct": step["cpu_pct"],
        "turn_overhead_p50_ms": step["turn_overhead_p50_ms"],
        "turn_overhead_p99_ms": step["turn_overhead_p99_ms"], "turns": step["turns"],
        "cpu_s_per_call_s": round((p1 - p0) / (calls * wall), 5),
        "cpu_pct_by_thread": {k: round(100.0 * v / wall, 1) for k, v in
                              sorted(by_thread.items(), key=lambda kv: -kv[1])
                              if 100.0 * v / wall >= 0.5},
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--room", nargs="+", default=["livekit"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", nargs=3, metavar=("ROOM", "CALLS", "SECONDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        room, calls, seconds = args.child
        result = asyncio.run(_measure(int(calls), float(seconds), room))
        print(json.dumps(result), flush=True)
        os._exit(0)
    runs = []
    for room in args.room:
        for n in args.calls:
            out = subprocess.run(
                [sys.executable, __file__, "--child", room, str(n), str(args.seconds)],
                capture_output=True, text=True, check=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(run)
            threads = ", ".join(f"{k} {v}" for k, v in run["cpu_pct_by_thread"].items())
            print(f"{room} {n} calls: {run['cpu_s_per_call_s']:.4f} CPU-s per call-s "
                  f"(CPU {run['cpu_pct']} %), late {run['late_frame_pct']} %, overhead "
                  f"p50/p99 {run['turn_overhead_p50_ms']}/{run['turn_overhead_p99_ms']} ms "
                  f"over {run['turns']} turns, load {run['load_avg_1m']}\n  by thread: "
                  f"{threads}", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
