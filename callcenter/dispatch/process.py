"""A worker process: LiveKit agent worker + call runner + watchdog + health, with signal handling.

SIGTERM (or SIGINT) once: drain (no new calls; running calls finish, up to the drain timeout;
the rest are handed to other workers through the watchdog). A second signal: stop at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from livekit import api

from callcenter.control.bus import ControlBus
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.control.redis_bus import RedisControlBus
from callcenter.dispatch.admission import Admission
from callcenter.dispatch.job import JobHandler, RoomConnector
from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.dispatch.metrics import HealthServer, WorkerMetrics
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.dispatch.runner import CallRunner, JobOutcome, RunnerTiming
from callcenter.dispatch.store import CheckpointStore
from callcenter.dispatch.watchdog import Watchdog, livekit_redispatcher
from callcenter.dispatch.worker import AgentWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Everything `callcenter worker` needs (built from settings and CLI flags)."""

    livekit_url: str
    api_key: str
    api_secret: str
    agent_name: str
    redis_url: str | None
    # Objects, not import strings: the CLI resolves `--handler` once, with a clear error.
    handler: JobHandler
    room_connector: RoomConnector
    redis_prefix: str = "cc:"
    max_calls: int = 20
    cpu_threshold: float = 0.85
    drain_timeout_s: float = 300.0
    health_host: str = "127.0.0.1"
    health_port: int = 8081
    timing: RunnerTiming = field(default_factory=RunnerTiming)


def make_store(redis_url: str | None, timing: RunnerTiming, prefix: str = "cc:") -> CheckpointStore:
    if redis_url:
        return RedisCheckpointStore.from_url(
            redis_url, prefix=prefix, lease_ttl_s=timing.lease_ttl_s
        )
    log.warning("REDIS_URL is not set: checkpoints stay in this process, no failover")
    return MemoryCheckpointStore()


def make_control(store: CheckpointStore) -> ControlBus:
    """Call control over the same Redis (and key prefix) as the leases it is fenced by."""
    if isinstance(store, RedisCheckpointStore):
        return RedisControlBus(store)
    return InProcessControlBus()


async def serve(opts: WorkerOptions) -> int:
    """Run until drained or stopped; returns the process exit code."""
    store = make_store(opts.redis_url, opts.timing, opts.redis_prefix)
    control = make_control(store)
    metrics = WorkerMetrics()
    runner = CallRunner(
        handler=opts.handler,
        store=store,
        admission=Admission(opts.max_calls, opts.cpu_threshold),
        metrics=metrics,
        timing=opts.timing,
        control=control,
    )
    worker = AgentWorker(
        url=opts.livekit_url,
        api_key=opts.api_key,
        api_secret=opts.api_secret,
        agent_name=opts.agent_name,
        runner=runner,
        connect_room=opts.room_connector,
    )
    health = HealthServer(
        metrics, lambda: {**runner.status(), "registered": worker.registered.is_set()}
    )
    await health.start(opts.health_host, opts.health_port)  # a taken port falls back to a free one
    # Always said, so an operator running several workers on a host knows which port is whose.
    log.info("worker %s: /healthz and /metrics on http://%s:%d", runner.worker_id,
             opts.health_host, health.port)
    lkapi = api.LiveKitAPI(opts.livekit_url, opts.api_key, opts.api_secret)
    watchdog = Watchdog(store, livekit_redispatcher(lkapi), owner=runner.worker_id)
    loop = asyncio.get_running_loop()
    watch_task = loop.create_task(watchdog.run()) if opts.redis_url else None
    exit_code = 0
    signals = 0
    pending: set[asyncio.Task[Any]] = set()

    def on_signal() -> None:
        nonlocal signals, exit_code
        signals += 1
        if signals == 1:
            log.info(
                "draining: no new calls, %d running (timeout %.0fs)",
                runner.active,
                opts.drain_timeout_s,
            )
            pending.add(loop.create_task(worker.drain(opts.drain_timeout_s)))
        else:
            log.warning("second signal: stopping now, handing %d calls over", runner.active)
            exit_code = 1
            pending.add(loop.create_task(_stop_now(runner, worker)))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await worker.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        watchdog.stop()
        if watch_task is not None:
            watch_task.cancel()
        # Each step is bounded: a stuck socket must not keep a drained worker alive.
        steps = (runner.aclose(), control.aclose(), health.stop(), lkapi.aclose(), store.aclose())
        for step in steps:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(step, 5.0)
    return exit_code


async def _stop_now(runner: CallRunner, worker: AgentWorker) -> None:
    await runner.stop_now(JobOutcome.RELEASED)
    await worker.stop()
