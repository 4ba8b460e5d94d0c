"""CallRunner: runs one handler task per call with leases, checkpoints, heartbeats and drain.

Shared by the LiveKit worker and the local dispatcher, so admission, failover and drain behave
the same with or without LiveKit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from callcenter.control.bus import ControlBus
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.admission import Admission
from callcenter.dispatch.checkpoints import store_outage_log
from callcenter.dispatch.job import JobContext, JobHandler, JobInfo
from callcenter.dispatch.loops import raise_if_cancelled
from callcenter.dispatch.metrics import WorkerMetrics
from callcenter.dispatch.outage import is_outage
from callcenter.dispatch.store import CheckpointStore, Lease, LeaseLost
from callcenter.rooms.base import Room

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobOutcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    TERMINATED = "terminated"  # the server asked us to stop (room closed, dispatch deleted)
    LOST = "lost"  # the lease moved to another worker
    RELEASED = "released"  # drain timeout: handed back for re-dispatch
    DECLINED = "declined"  # another worker holds the call
    ABANDONED = "abandoned"  # the runner died: nothing recorded, leases just expire


@dataclass(frozen=True, slots=True)
class RunnerTiming:
    """Lease TTL must cover a few heartbeats; failover time ~ lease_ttl + watchdog interval."""

    heartbeat_s: float = 0.5
    lease_ttl_s: float = 2.0
    worker_ttl_s: float = 5.0
    # A call that ended during a store outage keeps retrying to record its end this long
    # (its lease kept alive meanwhile), so the watchdog does not run it a second time.
    finish_retry_s: float = 60.0
    # A call offered while the store is down waits this long for it to take its lease and
    # read its checkpoint, instead of failing at once: the caller would be dropped.
    start_retry_s: float = 15.0


@dataclass
class RunningCall:
    job: JobInfo
    lease: Lease
    task: asyncio.Task[None]
    ctx: JobContext | None = None
    started: float = field(default_factory=time.monotonic)
    stop_reason: JobOutcome | None = None


JobDone = Callable[[JobInfo, JobOutcome, str], None]


class CallRunner:
    """Owns the calls of one worker process."""

    def __init__(
        self,
        *,
        handler: JobHandler,
        store: CheckpointStore,
        admission: Admission | None = None,
        metrics: WorkerMetrics | None = None,
        timing: RunnerTiming | None = None,
        worker_id: str | None = None,
        on_done: JobDone | None = None,
        control: ControlBus | None = None,
    ) -> None:
        self.handler = handler
        self.store = store
        # Call control for this runner's calls; None until a dispatcher shares its own, or
        # the first call starts (a runner on its own then gets an in-process bus).
        self.control = control
        self.admission = admission or Admission()
        self.metrics = metrics or WorkerMetrics()
        self.timing = timing or RunnerTiming()
        # Stable for the process's life (LiveKit's worker id changes on every reconnect).
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:12]}"
        self.on_done = on_done
        self.calls: dict[str, RunningCall] = {}
        self.draining = False
        self._heartbeat: asyncio.Task[None] | None = None
        self._beating = True
        self._idle = asyncio.Event()
        self._idle.set()
        self.store_outage = store_outage_log()
        self.metrics.call_slots.set(self.admission.max_calls)

    # --- admission ------------------------------------------------------------------------

    @property
    def active(self) -> int:
        return len(self.calls)

    def accepts(self) -> bool:
        return not self.draining and self.admission.accepts(self.active)

    def load(self) -> float:
        return self.admission.load(self.active)

    def status(self) -> dict[str, object]:
        return {
            "worker_id": self.worker_id,
            "pid": os.getpid(),
            "active_calls": self.active,
            "max_calls": self.admission.max_calls,
            "cpu": round(self.admission.cpu.value, 3),
            "draining": self.draining,
            "calls": sorted(c.job.call_id for c in self.calls.values()),
        }

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._heartbeat is None:
            self._beating = True
            self.admission.cpu.reset()
            self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeat_loop())

    async def start_call(
        self, job: JobInfo, join: Callable[[], Awaitable[Room]], *, t0: float = 0.0
    ) -> JobOutcome | None:
        """Take the call's lease, join its room, start the handler.

        Returns None when the call is running, or DECLINED if another worker holds it.
        Raises if the room cannot be joined (the lease is then released for a retry).
        """
        self.start()
        if any(c.job.call_id == job.call_id for c in self.calls.values()):
            self.metrics.jobs.labels(JobOutcome.DECLINED).inc()
            return JobOutcome.DECLINED
        lease = await self._through_outage(lambda: self.store.acquire(
            job.call_id,
            self.worker_id,
            room_name=job.room_name,
            agent_name=job.agent_name,
            ttl_s=self.timing.lease_ttl_s,
        ))
        if lease is None:
            self.metrics.jobs.labels(JobOutcome.DECLINED).inc()
            return JobOutcome.DECLINED
        try:
            resume = await self._through_outage(lambda: self.store.load(job.call_id))
            room = await join()
        except BaseException:
            await self.store.release(lease)
            raise
        ctx = JobContext(
            job=job,
            room=room,
            worker_id=self.worker_id,
            lease=lease,
            resume=resume,
            store=self.store,
            on_turn_latency=self.metrics.turn_latency.observe,
            control=self._control(),
            store_outage=self.store_outage,
        )
        try:
            await ctx.start_serving_commands()  # reachable by call control from here on
        except BaseException:
            await self.store.release(lease)
            with contextlib.suppress(Exception):
                await room.aclose()
            raise
        task = asyncio.get_running_loop().create_task(_run(self.handler, ctx), name=job.call_id)
        running = RunningCall(job, lease, task, ctx)
        self.calls[job.job_id] = running
        self._idle.clear()
        self.metrics.active_calls.set(self.active)
        if t0:
            self.metrics.dispatch_latency.observe(time.monotonic() - t0)
        task.add_done_callback(lambda t: asyncio.ensure_future(self._finished(running, room)))
        return None

    def terminate(self, job_id: str) -> bool:
        """Stop one call at the server's request. False if we don't run that job."""
        running = self.calls.get(job_id)
        if running is None:
            return False
        running.stop_reason = JobOutcome.TERMINATED
        if running.ctx is not None:
            running.ctx.terminated = True
        running.task.cancel()
        return True

    async def drain(self, timeout_s: float) -> bool:
        """Take no new calls; wait for running ones. True if all ended within the timeout.

        Calls still running at the timeout are released (not finished), so the watchdog
        hands them to another worker instead of dropping the callers.
        """
        self.draining = True
        self.metrics.draining.set(1)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except TimeoutError:
            await self.stop_now(JobOutcome.RELEASED)
            return False

    async def stop_now(self, reason: JobOutcome = JobOutcome.RELEASED) -> None:
        """Cancel every call (second SIGTERM, or drain timeout) and wait for the cleanup."""
        self.draining = True
        for running in list(self.calls.values()):
            running.stop_reason = running.stop_reason or reason
            running.task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), 5.0)

    async def abandon(self) -> None:
        """Stop like a killed process: heartbeats stop, calls stop, nothing is recorded.

        The local dispatcher uses this to exercise failover without a second process.
        """
        self._beating = False
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        await self.stop_now(JobOutcome.ABANDONED)

    async def aclose(self) -> None:
        await self.stop_now()
        self._beating = False
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._heartbeat, 5.0)
            self._heartbeat = None

    # --- internals ------------------------------------------------------------------------

    def _control(self) -> ControlBus:
        if self.control is None:
            self.control = InProcessControlBus()
        return self.control

    async def _finished(self, running: RunningCall, room: Room) -> None:
        job, task = running.job, running.task
        error = ""
        if running.stop_reason is not None:
            outcome = running.stop_reason
        elif task.cancelled():
            outcome = JobOutcome.RELEASED
        elif (exc := task.exception()) is not None:
            outcome = JobOutcome.LOST if isinstance(exc, LeaseLost) else JobOutcome.FAILED
            error = f"{type(exc).__name__}: {exc}"
            if outcome is JobOutcome.FAILED:
                log.error("call %s failed", job.call_id, exc_info=exc)
        else:
            outcome = JobOutcome.SUCCESS
        if outcome is JobOutcome.ABANDONED:
            self.calls.pop(job.job_id, None)
            if not self.calls:
                self._idle.set()
            return
        try:
            if outcome in (JobOutcome.SUCCESS, JobOutcome.FAILED, JobOutcome.TERMINATED):
                await self._finish(running)
            elif outcome is JobOutcome.RELEASED:
                await self.store.release(running.lease)
        except LeaseLost:
            outcome = JobOutcome.LOST
        except Exception as exc:  # the store being down must not leave the call counted active
            if is_outage(exc):
                log.error("call %s: could not record the outcome %s: the store is still "
                          "unreachable (%s)", job.call_id, outcome, type(exc).__name__)
            else:
                log.exception("call %s: could not record the outcome %s", job.call_id, outcome)
        finally:
            if running.ctx is not None:
                await running.ctx.checkpoints.aclose()
        # Leave the room (never hang up: on a hand-over the caller stays for the next worker).
        with contextlib.suppress(Exception):
            await room.aclose()
        self.calls.pop(job.job_id, None)
        self.metrics.active_calls.set(self.active)
        self.metrics.jobs.labels(outcome).inc()
        if not self.calls:
            self._idle.set()
        if self.on_done is not None:
            self.on_done(job, outcome, error)

    async def _through_outage(self, attempt: Callable[[], Awaitable[T]],
                              retry_s: float | None = None) -> T:
        """`attempt()`, retried with backoff while the store is unreachable (up to `retry_s`,
        by default `start_retry_s`); other errors and the last outage error are raised."""
        deadline = time.monotonic() + (self.timing.start_retry_s if retry_s is None else retry_s)
        delay = 0.05
        while True:
            try:
                result = await attempt()
            except Exception as exc:
                raise_if_cancelled()
                if not is_outage(exc) or time.monotonic() + delay > deadline:
                    raise
                self.store_outage.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            self.store_outage.ok()
            return result

    async def _finish(self, running: RunningCall) -> None:
        """Write the last checkpoint, then mark the call finished; retried through an outage."""
        started = time.monotonic()
        if running.ctx is not None:
            await running.ctx.checkpoints.flush(self.timing.finish_retry_s)
        left = self.timing.finish_retry_s - (time.monotonic() - started)
        await self._through_outage(lambda: self.store.finish(running.lease), max(0.0, left))

    async def _heartbeat_loop(self) -> None:
        t = self.timing
        while self._beating:
            try:
                self.metrics.cpu_load.set(self.admission.cpu.sample())
                leases = [c.lease for c in self.calls.values()]
                lost = {lease.call_id for lease in await self.store.renew(leases, t.lease_ttl_s)}
                await self._restore_checkpoints(self.store.take_restored())
                for running in list(self.calls.values()):
                    if running.lease.call_id in lost and not running.task.done():
                        log.warning("call %s: lease lost, stopping it here", running.job.call_id)
                        running.stop_reason = JobOutcome.LOST
                        running.task.cancel()
                await self.store.worker_heartbeat(self.worker_id, self.status(), t.worker_ttl_s)
                self.store_outage.ok()
            except Exception as exc:  # keep beating: a Redis blip must not kill the loop
                raise_if_cancelled()
                if is_outage(exc):
                    self.store_outage.failed(exc)  # one line per outage, not per beat
                else:
                    log.exception("heartbeat failed")
            await asyncio.sleep(t.heartbeat_s)


    async def _restore_checkpoints(self, call_ids: list[str]) -> None:
        """Redis came back empty (no persistence): write our calls' checkpoints again."""
        if not call_ids:
            return
        log.warning("checkpoint store (Redis) came back without the leases of %d live "
                    "call(s) (restarted without persistence?): re-established them and their "
                    "checkpoints from memory", len(call_ids))
        by_call = {c.lease.call_id: c for c in self.calls.values()}
        for call_id in call_ids:
            running = by_call.get(call_id)
            if running is not None and running.ctx is not None:
                await running.ctx.checkpoints.restore()


async def _run(handler: JobHandler, ctx: JobContext) -> None:
    try:
        await handler(ctx)
    finally:
        # Ended, cancelled (lease lost, drain, abandon) or failed: its commands stop here.
        with contextlib.suppress(Exception):
            await ctx.stop_serving_commands()
