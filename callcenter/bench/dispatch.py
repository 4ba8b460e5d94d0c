"""`callcenter bench dispatch`: dispatch latency, failover time and a lossless drain.

- `dispatch_ms`: job offer -> the call's handler running, local dispatcher, N arrivals/s.
- `failover_s`: real worker processes on a fake LiveKit control plane and Redis; the worker
  running a scripted call is SIGKILLed after two answered questions; time until the new
  worker's first agent audio (its recovery line), with the conversation checked intact.
- `drain_ok`: a deploy during 20 live calls (old runner drains with a short timeout, a new
  runner takes the hand-overs): every call ends normally, no question asked twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.dispatch.admission import Admission
from callcenter.dispatch.job import JobContext
from callcenter.dispatch.local import LocalDispatcher
from callcenter.dispatch.outage import describe, is_outage
from callcenter.dispatch.runner import CallRunner, RunnerTiming
from callcenter.rooms.local import LocalRoom
from callcenter.testing.demo import GOODBYE, QUESTIONS, RECOVERY_LINE, scripted_call

Progress = Callable[[str], None]
BENCH_TIMING = RunnerTiming(heartbeat_s=0.1, lease_ttl_s=0.6, worker_ttl_s=2.0)


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if values else float("nan")


async def measure_dispatch(rate: float, seconds: float, hold_s: float = 1.0) -> dict[str, Any]:
    """Offer `rate` calls per second for `seconds`; time offer -> handler running."""
    started: dict[str, float] = {}

    async def handler(ctx: JobContext) -> None:
        started[ctx.call_id] = time.perf_counter()
        await asyncio.sleep(hold_s)

    dispatcher = LocalDispatcher()
    cores = float(os.cpu_count() or 1)
    for _ in range(2):
        dispatcher.add_runner(
            CallRunner(
                handler=handler,
                store=dispatcher.store,
                admission=Admission(max_calls=int(rate * hold_s * 2) + 10, cpu_threshold=cores),
            )
        )
    offered: dict[str, float] = {}
    n = int(rate * seconds)
    t0 = time.perf_counter()
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        room = LocalRoom(f"call-b{i}")
        offered[room.name] = time.perf_counter()
        await dispatcher.dispatch(room)
        room.close("bench")  # media is not what this measures; stop its ticker
    await asyncio.sleep(0.05)
    await dispatcher.aclose()
    ms = [1000 * (started[c] - offered[c]) for c in offered if c in started]
    return {"p50": _pct(ms, 50), "p99": _pct(ms, 99), "calls": len(ms), "rate_per_s": rate}


async def measure_drain(calls: int = 20) -> dict[str, Any]:
    """A deploy during `calls` live calls: old runner drains (short timeout), new one takes over."""
    dispatcher = LocalDispatcher(watchdog_interval_s=0.05)
    cores = float(os.cpu_count() or 1)

    def runner() -> CallRunner:
        r = CallRunner(
            handler=scripted_call,
            store=dispatcher.store,
            admission=Admission(max_calls=calls + 5, cpu_threshold=cores),
            timing=BENCH_TIMING,
        )
        dispatcher.add_runner(r)
        return r

    old = runner()
    rooms = [LocalRoom(f"call-d{i}") for i in range(calls)]
    for room in rooms:
        await dispatcher.dispatch(room, metadata={"answer_delay_s": 0.15})
    await asyncio.sleep(0.3)
    runner()
    finished_on_old = await dispatcher.remove_runner(old, drain_timeout_s=0.2)
    deadline = time.monotonic() + 30
    lines: list[list[str]] = []
    while time.monotonic() < deadline:
        lines = [_said(r) for r in rooms]
        if all(ls and ls[-1] == GOODBYE for ls in lines):
            break
        await asyncio.sleep(0.05)
    await dispatcher.aclose()
    ended = sum(1 for ls in lines if ls and ls[-1] == GOODBYE)
    repeated = sum(1 for ls in lines if any(ls.count(q) != 1 for _s, q in QUESTIONS))
    return {
        "drain_ok": ended == calls and repeated == 0,
        "calls": calls,
        "ended_normally": ended,
        "with_repeated_questions": repeated,
        "handed_over": len(dispatcher.watchdog.redispatched),
        "all_done_before_timeout": finished_on_old,
    }


def _said(room: LocalRoom) -> list[str]:
    return [
        t.split(": ", 1)[1] for _w, topic, t, _to in room.messages if topic == "lk.transcription"
    ]


async def measure_failover(redis_url: str, runs: int = 3) -> dict[str, Any]:
    """SIGKILL the worker of a scripted call; seconds to the new worker's first audio."""
    import redis.asyncio as aioredis

    times: list[float] = []
    intact = True
    failures: list[str] = []
    r = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for _ in range(runs):
            try:
                seconds, kept = await _one_failover(
                    r, redis_url, f"ccbench:{uuid.uuid4().hex[:8]}:")
            except Exception as exc:  # one run lost to a Redis outage is a result, not a crash
                if not (is_outage(exc) or isinstance(exc, TimeoutError)):
                    raise
                failures.append(describe(exc))
                continue
            times.append(seconds)
            intact = intact and kept
    finally:
        await r.aclose()
    result: dict[str, Any] = {
        "p50": _pct(times, 50) if times else None,
        "max": round(max(times), 3) if times else None,
        "runs": runs,
        "context_kept": intact and bool(times),
    }
    if failures:
        result["failed_runs"] = failures
    return result


async def _one_failover(r: Any, redis_url: str, prefix: str) -> tuple[float, bool]:
    from callcenter.testing.livekit import FakeLiveKitServer
    from callcenter.testing.livekit.rooms import TRANSCRIPT_KEY

    room = f"call-{prefix.split(':')[1]}"
    ckpt = f"{prefix}ckpt:{room}"
    key = TRANSCRIPT_KEY.format(room=room)
    async with FakeLiveKitServer() as server:
        procs = [await _spawn(server, redis_url, prefix) for _ in range(2)]
        fa = server.agents
        try:
            await fa.wait_for(lambda: len(fa.workers) == 2, timeout=60)
            if await fa.dispatch(room, agent_name="callcenter") is None:
                raise RuntimeError("no worker accepted the benchmark call")
            await _until(lambda: _turns(r, ckpt, 2), 30)
            owner = await _read(lambda: r.hget(ckpt, "worker"))
            info = json.loads(await _read(lambda: r.get(f"{prefix}worker:{owner!s}")))
            os.kill(int(info["pid"]), signal.SIGKILL)
            t_kill = time.monotonic()
            await _until(lambda: _contains(r, key, RECOVERY_LINE), 30)
            seconds = time.monotonic() - t_kill
            await _until(lambda: _contains(r, key, GOODBYE), 30)
            said = await _read(lambda: r.lrange(key, 0, -1))
            kept = said.count(RECOVERY_LINE) == 1 and all(said.count(q) == 1 for _s, q in QUESTIONS)
            return seconds, kept
        finally:
            for p in procs:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
            try:
                keys = [k async for k in r.scan_iter(match=prefix + "*")] + [key]
                await r.delete(*keys)
            except Exception as exc:  # a Redis blip must not turn a result into a crash
                if not is_outage(exc):
                    raise


async def _spawn(server: Any, redis_url: str, prefix: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "LIVEKIT_URL": server.url,
        "LIVEKIT_API_KEY": server.api_key,
        "LIVEKIT_API_SECRET": server.api_secret,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "ERROR",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from callcenter.cli import main; main()",
        "worker",
        "--processes",
        "1",  # the bench kills single worker processes, each its own call holder
        "--health-port",
        "0",
        "--redis-prefix",
        prefix,
        "--handler",
        "callcenter.testing.demo:scripted_call",
        "--room-connector",
        "callcenter.testing.livekit.rooms:redis_transcript_rooms",
        env=env,
    )


async def _turns(r: Any, key: str, n: int) -> bool:
    data = await r.hget(key, "data")
    return data is not None and json.loads(data)["turn"] >= n


async def _contains(r: Any, key: str, line: str) -> bool:
    return line in await r.lrange(key, 0, -1)


async def _until(pred: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await pred():
                return
        except Exception as exc:  # Redis blipping during failover: look again
            if not is_outage(exc):
                raise
        await asyncio.sleep(0.02)
    raise TimeoutError(f"benchmark step did not complete within {timeout} s")


async def _read(read: Callable[[], Any], timeout: float = 30.0) -> Any:
    """One Redis read, retried through an outage of up to `timeout` seconds."""
    result: list[Any] = []

    async def attempt() -> bool:
        result.append(await read())
        return True

    await _until(attempt, timeout)
    return result[-1]


async def run_dispatch_bench(
    *,
    redis_url: str | None,
    rate: float = 100.0,
    seconds: float = 10.0,
    failover_runs: int = 3,
    progress: Progress = lambda _m: None,
) -> dict[str, Any]:
    """All three measurements; failover is skipped (with the reason) without Redis."""
    progress(f"dispatch: {rate:g} arrivals/s for {seconds:g} s")
    result: dict[str, Any] = {"dispatch_ms": await measure_dispatch(rate, seconds)}
    if redis_url:
        progress(f"failover: {failover_runs} SIGKILLs of a worker process mid-call")
        result["failover_s"] = await measure_failover(redis_url, failover_runs)
    else:
        result["failover_s"] = {"skipped": "needs Redis: set REDIS_URL or pass --redis-url"}
    progress("drain: a deploy during 20 live calls")
    drain = await measure_drain()
    result["drain_ok"] = drain.pop("drain_ok")
    result["drain"] = drain
    return result


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
