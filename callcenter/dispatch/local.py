"""LocalDispatcher: the embedded default's stand-in for LiveKit's dispatch, same behaviour.

Calls (rooms that already exist in-process, e.g. a `LocalRoom` with a scripted caller or the
dev SIP endpoint) are offered to in-process `CallRunner`s by free slots and CPU, least loaded
first; drains and failover work as with LiveKit: a watchdog over the same checkpoint store
(memory, or Redis when `REDIS_URL` is set) hands a lost runner's calls to another runner,
which resumes from the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass
from typing import Any

from callcenter.control.bus import ControlBus
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.job import JobInfo
from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.dispatch.runner import CallRunner, JobOutcome
from callcenter.dispatch.store import ActiveCall, CheckpointStore
from callcenter.dispatch.watchdog import Watchdog
from callcenter.rooms.base import Room


class NoCapacity(Exception):
    """Every runner is full, draining or gone; the message says which."""


@dataclass(frozen=True, slots=True)
class Dispatched:
    job: JobInfo
    runner: CallRunner
    dispatch_s: float


class LocalDispatcher:
    """Dispatch calls to in-process runners and re-dispatch the calls of a lost one."""

    def __init__(
        self,
        store: CheckpointStore | None = None,
        *,
        agent_name: str = "callcenter",
        watchdog_interval_s: float = 0.1,
        control: ControlBus | None = None,
    ) -> None:
        self.store = store or MemoryCheckpointStore()
        # One bus for every runner: a command reaches the call whichever runner holds it.
        self.control = control or InProcessControlBus()
        self._owns_control = control is None
        self.agent_name = agent_name
        self.runners: list[CallRunner] = []
        self._rooms: dict[str, Room] = {}
        self._ids = itertools.count(1)
        self.watchdog = Watchdog(
            self.store, self._redispatch, owner="local-dispatcher", interval_s=watchdog_interval_s
        )
        self._watch_task: asyncio.Task[None] | None = None

    def add_runner(self, runner: CallRunner) -> None:
        if runner.store is not self.store:
            raise ValueError("a runner must share the dispatcher's checkpoint store")
        if runner.control is None:
            runner.control = self.control
        elif runner.control is not self.control:
            raise ValueError("a runner must share the dispatcher's control bus")
        self.runners.append(runner)
        runner.start()
        if self._watch_task is None:
            self._watch_task = asyncio.get_running_loop().create_task(self.watchdog.run())

    async def dispatch(
        self, room: Room, *, call_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Dispatched:
        """Start the call in `room` on the least-loaded runner that accepts it."""
        t0 = time.monotonic()
        self._rooms[room.name] = room
        job = JobInfo(
            job_id=f"LJ_{next(self._ids):06d}",
            room_name=room.name,
            call_id=call_id or room.name,
            agent_name=self.agent_name,
            metadata=dict(metadata or {}),
        )
        candidates = sorted((r for r in self.runners if r.accepts()), key=lambda r: r.load())
        for runner in candidates:
            outcome = await runner.start_call(job, lambda: _ready(room), t0=t0)
            if outcome is None:
                return Dispatched(job, runner, time.monotonic() - t0)
            if outcome is JobOutcome.DECLINED:
                raise NoCapacity(f"call {job.call_id} is already running on another worker")
        states = ", ".join(
            f"{r.worker_id}: {r.active}/{r.admission.max_calls}"
            + (" draining" if r.draining else "")
            for r in self.runners
        )
        raise NoCapacity(f"no runner can take call {job.call_id} ({states or 'no runners'})")

    async def remove_runner(self, runner: CallRunner, *, drain_timeout_s: float | None) -> bool:
        """Drain a runner (None: drop it like a crash, leaving its calls to the watchdog)."""
        self.runners.remove(runner)
        if drain_timeout_s is None:
            await runner.abandon()
            return False
        ok = await runner.drain(drain_timeout_s)
        await runner.aclose()
        return ok

    async def aclose(self) -> None:
        self.watchdog.stop()
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._watch_task, 5.0)
        for runner in self.runners:
            await runner.aclose()
        if self._owns_control:
            await self.control.aclose()

    async def _redispatch(self, call: ActiveCall) -> None:
        room = self._rooms.get(call.room_name)
        if room is None:
            return  # not one of ours (another process's call in a shared Redis)
        await self.dispatch(room, call_id=call.call_id, metadata={"resume": True})


async def _ready(room: Room) -> Room:
    return room
