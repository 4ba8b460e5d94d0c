"""A stand-in agent worker for the production console tests, on the real Redis and database.

It does what a worker's call does at the edges the console reads, with the worker's own
parts: it holds the call's lease and serves its commands on the `RedisControlBus`, puts
the call in the Redis escalation queue through `QueueEscalation` (the call session's port),
and writes the call record with the `SqlRecorder`. It runs on an event loop in a thread of
its own, so the app under test (uvicorn in another thread) shares nothing with it but
Redis and the database.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from callcenter.callsession.recorder import CallInfo, SqlRecorder
from callcenter.control import Command, CommandResult
from callcenter.control.redis_bus import RedisControlBus
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.escalation import QueueEscalation
from callcenter.escalation.redis_broker import RedisEscalationBroker
from callcenter.flow.actions import Escalate
from callcenter.flow.events import EscalationResult
from callcenter.voice.events import Utterance

T = TypeVar("T")


class TestWorker:
    """One call on a worker: `run(coro)` runs a coroutine on the worker's loop."""

    __test__ = False  # not a test class

    def __init__(self, redis_url: str, prefix: str, engine: Engine, call: CallInfo) -> None:
        self.url, self.prefix, self.call = redis_url, prefix, call
        self.recorder = SqlRecorder(engine)
        self.commands: list[Command] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._seq = 0

    def __enter__(self) -> TestWorker:
        self._thread.start()
        self.run(self._start())
        return self

    def __exit__(self, *_exc: object) -> None:
        self.run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _start(self) -> None:
        self.store = RedisCheckpointStore.from_url(self.url, prefix=self.prefix)
        self.bus = RedisControlBus(self.store, poll_s=0.2, refresh_s=0.2)
        self.broker = RedisEscalationBroker.from_url(self.url, prefix=self.prefix)
        lease = await self.store.acquire(self.call.call_id, "w-test", room_name=self.call.room_name,
                                         agent_name="callcenter", ttl_s=30.0)
        assert lease is not None
        self.lease = lease
        self.serving = await self.bus.serve(lease, self._handle)
        await self.recorder.call_started(self.call, resumed=False)

    async def _handle(self, command: Command) -> CommandResult:
        self.commands.append(command)
        return CommandResult(data={"kind": command.kind})

    async def _stop(self) -> None:
        await self.serving.aclose()
        await self.store.finish(self.lease)
        await self.bus.aclose()
        await self.broker.aclose()
        await self.store.aclose()

    async def escalate(self, reason: str, slots: dict[str, Any]) -> EscalationResult:
        """The flow's Escalate action as the call session runs it: wait for a supervisor."""
        action = Escalate(queue="support", reason=reason, timeout=60.0,
                          summary={"slots": slots, "agent_reason": reason})
        return await QueueEscalation(self.broker, update_s=0.5).request(
            self.call.call_id, action)

    async def say(self, role: str, identity: str, text: str) -> None:
        self._seq += 1
        at = 1000.0 * self._seq
        await self.recorder.utterance(self._seq, Utterance(role, identity, text, at, at + 500))

    async def event(self, type_: str, data: dict[str, Any]) -> None:
        self._seq += 1
        await self.recorder.event(self._seq, type_, 1000 * self._seq, data)

    async def end(self) -> None:
        await self.recorder.call_ended("ended", "hangup", {}, {})
