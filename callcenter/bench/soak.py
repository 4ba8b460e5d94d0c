"""`callcenter bench soak`: calls at a steady rate for a long time, with faults injected.

What runs, all real processes on this machine: a redis-server of the bench's own (free port,
append-only file, as in production), two `callcenter worker` processes on a fake LiveKit
server (the real `/agent` protocol), the scripted demo call as each call's handler, and two
`callcenter postcall worker` Celery processes on that Redis with a temporary SQLite
database. Each call that ends writes its call rows and enqueues post-call processing, as a
voice session does at hang-up.

Faults, one each, at a quarter, half and three quarters of the run: SIGKILL of the agent
worker holding calls (its calls must resume on the other one), a Redis crash and restart
(SIGKILL, 3 s down), SIGKILL of a Celery worker (its task must be redelivered). Killed
workers are replaced, as a supervisor would.

Results: calls started, completed, lost (dispatched, never finished; must be 0), run twice
(a question asked twice; must be 0), post-call records missing or duplicated (must be 0),
RSS growth per hour of the worker that is never killed, turn latency p99 per window (from
the caller's answer to the agent's next line, as the worker published it).

Transcript lines go to a second private Redis that is never faulted, so the bench can see
every call even while the first one is down.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.dispatch.job import RoomTicket
from callcenter.rooms.base import Room
from callcenter.rooms.local import LocalRoom

LOG_KEY = "soak:said:{room}"
LOG_URL_ENV = "SOAK_TRANSCRIPT_URL"
ANSWER_DELAY_S = 0.4  # the demo caller's answer time (callcenter.testing.demo)
WINDOW_S = 30.0


class _LoggedRoom(LocalRoom):
    """A local room whose final transcript lines go, with the time, to the log Redis."""

    def __init__(self, name: str, identity: str, url: str) -> None:
        import redis.asyncio as aioredis

        super().__init__(name, agent_identity=identity)
        self._client = aioredis.Redis.from_url(url)

    async def publish_transcript(self, identity: str, text: str, *, final: bool) -> None:
        await super().publish_transcript(identity, text, final=final)
        if final:
            line = f"{time.time():.3f}|{text}"
            await self._client.rpush(LOG_KEY.format(room=self.name), line)  # type: ignore[misc]

    async def aclose(self) -> None:
        self.close("left")
        await self._client.aclose()


async def soak_rooms(ticket: RoomTicket) -> Room:
    """Room connector for the soak's workers (`--room-connector`)."""
    return _LoggedRoom(ticket.room_name, ticket.identity, os.environ[LOG_URL_ENV])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Redis:
    """A redis-server of the bench's own, crashed and restarted by its pid only."""

    def __init__(self, workdir: Path, *, persist: bool) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("the soak needs redis-server (apt-get install redis-server)")
        self.binary, self.port, self.persist = binary, _free_port(), persist
        self.dir = workdir / f"redis-{self.port}"
        self.dir.mkdir()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        keep = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else [
            "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.dir), *keep],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            for _ in range(400):
                try:
                    client.ping()
                    return
                except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                    time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"the soak's redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


@dataclass
class _Call:
    room: str
    started: float
    done_at: float | None = None
    call_id: str | None = None  # the post-call record's id, once it hung up
    utterances: int = 0


@dataclass
class _Soak:
    env: dict[str, str]
    workdir: Path
    progress: Callable[[str], None]
    calls: dict[str, _Call] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def _spawn_agent(server: Any, soak: _Soak, n: int) -> asyncio.subprocess.Process:
    log = open(soak.workdir / f"agent{n}.log", "wb")  # noqa: SIM115 - owned by the process
    env = {**soak.env, "LIVEKIT_URL": server.url, "LIVEKIT_API_KEY": server.api_key,
           "LIVEKIT_API_SECRET": server.api_secret}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter", "worker", "--processes", "1", "--health-port", "0",
        "--redis-prefix", "soak:", "--max-calls", "100",
        "--cpu-threshold", str(os.cpu_count() or 1),
        "--handler", "callcenter.testing.demo:scripted_call",
        "--room-connector", "callcenter.bench.soak:soak_rooms",
        env=env, stdout=log, stderr=subprocess.STDOUT)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 1)


async def run_soak(*, duration_s: float, rate: float,
                   progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Run the soak (see the module docstring) and return the results dict."""
    from callcenter import migrate
    from callcenter.bench import postcall as pc
    from callcenter.config import load_settings
    from callcenter.db import engine_for

    workdir = Path(tempfile.mkdtemp(prefix="cc-soak-"))
    main, log_redis = _Redis(workdir, persist=True), _Redis(workdir, persist=False)
    main.start()
    log_redis.start()
    url = f"sqlite:///{workdir / 'soak.db'}"
    settings = load_settings(database_url=url, redis_url=main.url, data_dir=workdir)
    migrate.upgrade(settings.effective_database_url)
    engine = engine_for(settings.effective_database_url)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": main.url, "DATA_DIR": str(workdir),
           "LOG_LEVEL": "WARNING", LOG_URL_ENV: log_redis.url,
           # A task the killed broker or worker dropped is re-sent within seconds.
           "POSTCALL_SWEEP_INTERVAL_S": "2", "POSTCALL_STALE_AFTER_S": "20"}
    soak = _Soak(env, workdir, progress)
    celery = pc._start_workers(2, env, workdir)
    try:
        await asyncio.to_thread(pc._wait_ready, main.url, 2, celery)
        progress("2 post-call workers ready")
        result = await _run(soak, main, log_redis, celery, settings, engine, duration_s, rate)
    finally:
        pc._stop_workers(celery)
        main.kill()
        log_redis.kill()
    result["workdir"] = str(workdir)
    return result


async def _run(soak: _Soak, main: _Redis, log_redis: _Redis, celery: list[Any],
               settings: Any, engine: Any, duration_s: float, rate: float) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from callcenter.bench import postcall as pc
    from callcenter.testing.livekit import FakeLiveKitServer

    logs = aioredis.Redis.from_url(log_redis.url, decode_responses=True)
    async with FakeLiveKitServer() as server:
        agents = [await _spawn_agent(server, soak, i) for i in range(2)]
        fa = server.agents
        try:
            await fa.wait_for(lambda: len(fa.workers) == 2, timeout=120)
            soak.progress(f"2 agent workers registered; calls at {rate:g}/s for {duration_s:g} s")
            t0 = time.monotonic()
            stop = asyncio.Event()
            watcher = asyncio.create_task(_watch(soak, logs, settings, engine, stop))
            faults = asyncio.create_task(_inject(soak, server, agents, main, celery, t0,
                                                 duration_s))
            refused = 0
            rng = random.Random(7)
            i = 0
            while time.monotonic() - t0 < duration_s:
                room = f"call-soak{i}"
                i += 1
                soak.calls[room] = _Call(room, time.monotonic())
                if await fa.dispatch(room, agent_name="callcenter") is None:
                    refused += 1
                await asyncio.sleep(rng.expovariate(rate))
                pid = agents[1].pid
                if (mb := _rss_mb(pid)) is not None and (
                        not soak.rss or time.monotonic() - soak.rss[-1][0] > 5):
                    soak.rss.append((time.monotonic(), mb))
            await faults
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and any(
                    c.done_at is None for c in soak.calls.values()):
                await asyncio.sleep(0.5)
            stop.set()
            await watcher
        finally:
            for p in agents:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
    said = {room: [str(line).split("|", 1)
                   for line in await logs.lrange(LOG_KEY.format(room=room), 0, -1)]
            for room in soak.calls}
    await logs.aclose()
    ids = {c.call_id for c in soak.calls.values() if c.call_id}
    await asyncio.to_thread(pc._wait_processed, engine, ids, 120.0)
    return _report(soak, said, engine, duration_s, rate, refused, t0)


async def _watch(soak: _Soak, logs: Any, settings: Any, engine: Any,
                 stop: asyncio.Event) -> None:
    """Find calls that said goodbye; write their rows and enqueue post-call, as at hang-up."""
    from sqlmodel import Session, func, select

    from callcenter.models import Utterance, utcnow
    from callcenter.postcall import enqueue_process_call, synthetic
    from callcenter.testing.demo import GOODBYE

    rng = random.Random(11)
    while not stop.is_set():
        for call in [c for c in soak.calls.values() if c.done_at is None]:
            lines = await logs.lrange(LOG_KEY.format(room=call.room), -1, -1)
            if lines and lines[-1].split("|", 1)[1] == GOODBYE:
                call.done_at = time.monotonic()
                call_id = await asyncio.to_thread(synthetic.create_call, engine, rng,
                                                  ended_at=utcnow())
                call.call_id = call_id
                with Session(engine) as s:
                    call.utterances = s.exec(select(func.count()).select_from(Utterance).where(
                        Utterance.call_id == call_id)).one()
                # During the Redis crash this queues in the outbox only; a sweeper sends it.
                await asyncio.to_thread(enqueue_process_call, call_id, settings=settings,
                                        engine=engine)
        await asyncio.sleep(0.25)


async def _inject(soak: _Soak, server: Any, agents: list[Any], main: _Redis,
                  celery: list[Any], t0: float, duration_s: float) -> None:
    from callcenter.bench import postcall as pc

    async def at(share: float) -> float:
        await asyncio.sleep(max(0.0, t0 + share * duration_s - time.monotonic()))
        return round(time.monotonic() - t0, 1)

    when = await at(0.25)
    victim = agents[0]
    victim.send_signal(signal.SIGKILL)  # the worker that took the first calls
    await victim.wait()
    agents[0] = await _spawn_agent(server, soak, 2)
    soak.faults.append({"at_s": when, "fault": "agent worker SIGKILL", "pid": victim.pid})
    soak.progress(f"{when} s: SIGKILLed agent worker {victim.pid}; started a replacement")
    when = await at(0.5)
    await asyncio.to_thread(main.kill)
    await asyncio.sleep(3.0)
    await asyncio.to_thread(main.start)
    soak.faults.append({"at_s": when, "fault": "Redis SIGKILL, restarted after 3 s"})
    soak.progress(f"{when} s: Redis crashed and came back 3 s later")
    when = await at(0.75)
    victim_c = celery[0]
    os.killpg(victim_c.pid, signal.SIGKILL)
    victim_c.wait(10)
    replacement = soak.workdir / "celery-replacement"
    replacement.mkdir()
    celery[0] = pc._start_workers(1, soak.env, replacement)[0]
    soak.faults.append({"at_s": when, "fault": "Celery worker SIGKILL", "pid": victim_c.pid})
    soak.progress(f"{when} s: SIGKILLed post-call worker {victim_c.pid}; started a replacement")


def _report(soak: _Soak, said: dict[str, list[list[str]]], engine: Any, duration_s: float,
            rate: float, refused: int, t0: float) -> dict[str, Any]:
    from sqlmodel import Session, col, func, select

    from callcenter.models import Call, CallTranscript, PostcallJob, Utterance
    from callcenter.testing.demo import GOODBYE, QUESTIONS

    questions = {q for _s, q in QUESTIONS}
    run_twice = [room for room, lines in said.items()
                 if any([t for _ts, t in lines].count(q) > 1 for q in questions)]
    lost = [c.room for c in soak.calls.values() if c.done_at is None]
    windows: dict[int, list[float]] = {}
    for lines in said.values():
        asked = [(float(ts), t) for ts, t in lines if t in questions or t == GOODBYE]
        for (a, _q), (b, _n) in itertools.pairwise(asked):
            windows.setdefault(int((a - _wall(t0)) // WINDOW_S), []).append(
                max(0.0, (b - a - ANSWER_DELAY_S) * 1000))
    ids = [c.call_id for c in soak.calls.values() if c.call_id]
    with Session(engine) as s:
        processed = set(s.exec(select(Call.id).where(col(Call.id).in_(ids),
                                                     col(Call.processed_at).is_not(None))).all())
        transcripts = dict(s.exec(select(CallTranscript.call_id, func.count()).where(
            col(CallTranscript.call_id).in_(ids)).group_by(col(CallTranscript.call_id))).all())
        utterances = dict(s.exec(select(Utterance.call_id, func.count()).where(
            col(Utterance.call_id).in_(ids)).group_by(col(Utterance.call_id))).all())
        attempts = dict(s.exec(select(PostcallJob.call_id, PostcallJob.attempts).where(
            col(PostcallJob.call_id).in_(ids))).all())
    written = {c.call_id: c.utterances for c in soak.calls.values() if c.call_id}
    duplicated = [i for i in ids if transcripts.get(i, 0) > 1 or utterances.get(i) != written[i]]
    slope = _slope(soak.rss)
    all_lat = [v for vs in windows.values() for v in vs]
    return {
        "bench": "soak",
        "duration_s": duration_s,
        "rate_calls_per_s": rate,
        "cpu_count": os.cpu_count(),
        "faults": soak.faults,
        "calls_started": len(soak.calls),
        "calls_refused_at_dispatch": refused,
        "calls_completed": len(soak.calls) - len(lost),
        "calls_lost": len(lost),
        "lost": lost[:20],
        "calls_run_twice": len(run_twice),
        "postcall_records_missing": len([i for i in ids if i not in processed]),
        "postcall_records_duplicated": len(duplicated),
        # Jobs whose task ran more than once: a redelivery after the Celery SIGKILL is
        # expected (the killed attempt never finished); a sweeper copy of a job that was
        # running or waiting for its retry would show here too.
        "postcall_jobs_run_more_than_once": sum(1 for n in attempts.values() if n > 1),
        # Over a short run this slope is mostly warm-up: read it from the 30-minute form.
        "worker_rss_mb": {"first": round(soak.rss[0][1], 1) if soak.rss else None,
                          "last": round(soak.rss[-1][1], 1) if soak.rss else None,
                          "samples": len(soak.rss),
                          "growth_mb_per_hour": None if slope is None else round(slope, 1)},
        "turn_latency_ms": {"p50": _percentile(all_lat, 50), "p99": _percentile(all_lat, 99),
                            "turns": len(all_lat)},
        "turn_latency_p99_ms_by_window": [
            {"from_s": k * WINDOW_S, "turns": len(v), "p99": _percentile(v, 99)}
            for k, v in sorted(windows.items())],
        "ok": not lost and not run_twice and not duplicated and len(processed) == len(ids),
    }


def _wall(mono: float) -> float:
    """A monotonic instant of this process as wall-clock time (workers log wall time)."""
    return time.time() - (time.monotonic() - mono)


def _slope(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares MB per hour over the samples (None with fewer than 3)."""
    if len(samples) < 3:
        return None
    xs, ys = [t for t, _ in samples], [m for _, m in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n")
