"""Post-call benchmark: real Celery workers on Redis, synthetic calls of realistic length.

Two phases, both against `workers` separate `callcenter postcall worker --pool solo`
processes (offline summary, no LLM):

1. burst: `calls` ended calls queued at once; `throughput_calls_per_s` = calls / time from
   the first enqueue to the last record stored.
2. load: calls hang up at random (Poisson) moments at `load_factor` x that throughput for
   `duration_s`. Each hang-up writes the call's rows (as the voice session flushes them)
   and enqueues it; `end_to_stored_ms` = `Call.processed_at - Call.ended_at`.

`burst_end_to_stored_ms` is for reference only: it counts from each call's creation, so
it includes seeding and queueing behind the whole burst.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from callcenter import migrate
from callcenter.config import load_settings
from callcenter.db import engine_for
from callcenter.models import Call, Utterance, utcnow
from callcenter.postcall import enqueue_process_call, synthetic
from callcenter.postcall.app import create_app
from callcenter.postcall.metrics import aware, percentile

TARGET_P95_MS = 2000.0


def _start_workers(n: int, env: dict[str, str], logdir: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        log = open(logdir / f"worker{i}.log", "wb")  # noqa: SIM115 - owned by the process
        cmd = [sys.executable, "-m", "callcenter", "postcall", "worker", "--pool", "solo"]
        procs.append(
            subprocess.Popen(
                [*cmd, "--loglevel", "WARNING"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def _stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _wait_ready(redis_url: str, n: int, procs: list[subprocess.Popen[bytes]]) -> None:
    app = create_app(load_settings(redis_url=redis_url), register_tasks=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a post-call worker exited at start: see its log")
        if len(app.control.ping(timeout=0.5) or []) >= n:
            return
    raise RuntimeError(f"{n} post-call workers did not answer a ping within 60 s")


def _stats(values: list[float]) -> dict[str, float | int | None]:
    def r(v: float | None) -> float | None:
        return round(v, 1) if v is not None else None

    return {
        "n": len(values),
        "p50": r(percentile(values, 50)),
        "p95": r(percentile(values, 95)),
        "max": r(max(values) if values else None),
    }


def _wait_processed(engine: Any, ids: set[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with Session(engine) as session:
            done = session.exec(
                select(func.count())
                .select_from(Call)
                .where(col(Call.id).in_(ids), col(Call.processed_at).is_not(None))
            ).one()
        if done >= len(ids):
            return
        time.sleep(0.05)
    raise RuntimeError(f"only {done} of {len(ids)} calls were processed within {timeout_s:.0f} s")


def _latencies_ms(engine: Any, ids: set[str]) -> tuple[list[float], datetime | None]:
    with Session(engine) as session:
        rows = session.exec(
            select(Call.ended_at, Call.processed_at).where(col(Call.id).in_(ids))
        ).all()
    out = [(aware(p) - aware(e)).total_seconds() * 1000 for e, p in rows if e is not None and p]
    last = max((aware(p) for _, p in rows if p is not None), default=None)
    return out, last


def run_postcall_bench(
    *,
    redis_url: str,
    database_url: str | None = None,
    workers: int = 2,
    calls: int = 150,
    load_factor: float = 0.5,
    duration_s: float = 20.0,
    seed: int = 1,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Run both phases and return the results dict (see module docstring)."""
    tmp = Path(tempfile.mkdtemp(prefix="cc-bench-postcall-"))
    url = database_url or f"sqlite:///{tmp / 'bench.db'}"
    settings = load_settings(database_url=url, redis_url=redis_url, data_dir=tmp)
    url = settings.effective_database_url
    migrate.upgrade(url)
    engine = engine_for(url)
    rng = random.Random(seed)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
    env["DATA_DIR"] = str(tmp)
    procs = _start_workers(workers, env, tmp)
    try:
        _wait_ready(redis_url, workers, procs)
        progress(f"{workers} workers ready; seeding {calls} calls")
        burst = {synthetic.create_call(engine, rng) for _ in range(calls)}
        with Session(engine) as session:
            utterances = session.exec(select(func.count()).select_from(Utterance)).one()
        started = utcnow()
        for call_id in burst:
            enqueue_process_call(call_id, settings=settings, engine=engine)
        _wait_processed(engine, burst, timeout_s=30 + calls)
        burst_lat, last = _latencies_ms(engine, burst)
        elapsed = (last - started).total_seconds() if last else float("nan")
        throughput = calls / elapsed
        progress(f"burst: {throughput:.1f} calls/s")
        rate = max(throughput * load_factor, 0.1)
        progress(f"load: {rate:.1f} calls/s for {duration_s:.0f} s")
        loaded: set[str] = set()
        next_at = time.monotonic()
        end = next_at + duration_s
        while next_at < end:
            time.sleep(max(0.0, next_at - time.monotonic()))
            # Hang-up: the call's rows are flushed, then the job is queued.
            call_id = synthetic.create_call(engine, rng, ended_at=utcnow())
            enqueue_process_call(call_id, settings=settings, engine=engine)
            loaded.add(call_id)
            next_at += rng.expovariate(rate)
        _wait_processed(engine, loaded, timeout_s=60 + len(loaded))
        load_lat, _ = _latencies_ms(engine, loaded)
    finally:
        _stop_workers(procs)
    e2s = _stats(load_lat)
    p95 = e2s["p95"]
    return {
        "bench": "postcall",
        "workers": workers,
        "pool": "solo (one process each)",
        "broker": "redis",
        "database": engine.dialect.name,
        "cpu_count": os.cpu_count(),
        "summary": "offline",
        "burst_calls": calls,
        "utterances_per_call_avg": round(utterances / calls, 1),
        "throughput_calls_per_s": round(throughput, 2),
        "burst_end_to_stored_ms": _stats(burst_lat),
        "load": {
            "load_factor": load_factor,
            "rate_calls_per_s": round(rate, 2),
            "duration_s": duration_s,
            "calls": len(loaded),
        },
        "end_to_stored_ms": e2s,
        "target_p95_ms": TARGET_P95_MS,
        "ok": p95 is not None and float(p95) <= TARGET_P95_MS,
    }


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
