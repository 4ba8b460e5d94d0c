"""Call handlers run by the real CallRunner serve commands through their JobContext, and stop
serving when their job ends, fails over or loses its lease."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from callcenter.control import (
    CallNotLive,
    Coach,
    Command,
    CommandResult,
    CommandTimeout,
    Hangup,
    InProcessControlBus,
    Ping,
)
from callcenter.control.redis_bus import RedisControlBus
from callcenter.dispatch.admission import Admission
from callcenter.dispatch.job import JobContext, JobInfo
from callcenter.dispatch.local import LocalDispatcher
from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.dispatch.process import make_control
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.dispatch.runner import CallRunner, JobOutcome, RunnerTiming
from callcenter.rooms.local import LocalRoom

FAST = RunnerTiming(heartbeat_s=0.05, lease_ttl_s=0.3, worker_ttl_s=1.0)
CORES = float(os.cpu_count() or 1)


class CommandedCall:
    """A call handler that serves commands until a Hangup; records what it ran, per worker."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, str]] = []

    async def __call__(self, ctx: JobContext) -> None:
        hung_up = asyncio.Event()

        async def on_command(command: Command) -> CommandResult:
            self.ran.append((ctx.worker_id, command.kind))
            if isinstance(command, Hangup):
                hung_up.set()
            return CommandResult(data={"worker": ctx.worker_id})

        await ctx.serve_commands(on_command)
        await hung_up.wait()


def add_runner(d: LocalDispatcher, handler: CommandedCall) -> CallRunner:
    r = CallRunner(
        handler=handler,
        store=d.store,
        admission=Admission(max_calls=4, cpu_threshold=CORES),
        timing=FAST,
    )
    d.add_runner(r)
    return r


async def until(pred: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def local() -> AsyncIterator[LocalDispatcher]:
    d = LocalDispatcher(MemoryCheckpointStore(), watchdog_interval_s=0.05)
    yield d
    await d.aclose()


async def test_a_call_run_by_the_local_dispatcher_takes_commands_until_it_ends(
    local: LocalDispatcher,
) -> None:
    handler = CommandedCall()
    runner = add_runner(local, handler)
    await local.dispatch(LocalRoom("call-1"))
    result = await local.control.send("call-1", Coach(text="slow down", by="sam"))
    assert result.data == {"worker": runner.worker_id}
    await local.control.send("call-1", Hangup())
    await until(lambda: _idle(runner), 5, "the call to end")
    with pytest.raises(CallNotLive):
        await local.control.send("call-1", Ping())
    assert handler.ran == [(runner.worker_id, "coach"), (runner.worker_id, "hangup")]


async def test_after_failover_commands_reach_the_call_on_its_new_runner(
    local: LocalDispatcher,
) -> None:
    handler = CommandedCall()
    first = add_runner(local, handler)
    await local.dispatch(LocalRoom("call-1"))
    second = add_runner(local, handler)
    assert (await local.control.send("call-1", Ping())).data["worker_id"] == first.worker_id
    await local.remove_runner(first, drain_timeout_s=None)  # dies like a killed process

    async def served_by_second() -> bool:
        try:
            ping = await local.control.send("call-1", Ping(), timeout=1.0)
        except CallNotLive:
            return False
        assert ping.data["worker_id"] == second.worker_id  # never the dead runner
        return True

    await until(served_by_second, 5, "the call to resume on the second runner")
    result = await local.control.send("call-1", Coach(text="hi", by="sam"))
    assert result.data == {"worker": second.worker_id}
    assert handler.ran == [(second.worker_id, "coach")]


async def test_commands_sent_while_the_call_starts_wait_for_its_handler(
    local: LocalDispatcher,
) -> None:
    handler = CommandedCall()
    gate = asyncio.Event()

    async def slow_start(ctx: JobContext) -> None:
        await gate.wait()  # e.g. waiting for the caller, loading models
        await handler(ctx)

    runner = add_runner(local, handler)
    runner.handler = slow_start
    await local.dispatch(LocalRoom("call-1"))
    # The bus answers Ping for a call that has not served yet; other commands wait for it.
    assert (await local.control.send("call-1", Ping())).data["worker_id"] == runner.worker_id
    pending = asyncio.ensure_future(local.control.send("call-1", Hangup(), timeout=5.0))
    await asyncio.sleep(0.1)
    assert not pending.done() and handler.ran == []
    gate.set()
    assert (await pending).data == {"worker": runner.worker_id}
    runner.handler = _never_serves
    await local.dispatch(LocalRoom("call-2"))
    with pytest.raises(CommandTimeout):  # a handler that never serves: no answer, not "ended"
        await local.control.send("call-2", Hangup(), timeout=0.3)


async def _never_serves(ctx: JobContext) -> None:
    await asyncio.Event().wait()


async def test_a_runner_on_its_own_serves_its_calls_on_an_in_process_bus() -> None:
    handler = CommandedCall()
    runner = CallRunner(handler=handler, store=MemoryCheckpointStore(), timing=FAST)
    room = LocalRoom("call-1")
    job = JobInfo("J1", room.name, "call-1", "callcenter")
    assert await runner.start_call(job, lambda: _ready(room)) is None
    assert isinstance(runner.control, InProcessControlBus)
    assert (await runner.control.send("call-1", Hangup())).data == {"worker": runner.worker_id}
    await until(lambda: _idle(runner), 5, "the call to end")
    await runner.aclose()


async def test_a_worker_on_redis_stops_serving_a_call_whose_lease_was_taken(
    redis11_url: str, redis_prefix: str
) -> None:
    store = RedisCheckpointStore.from_url(redis11_url, prefix=redis_prefix, lease_ttl_s=0.3)
    worker_bus = make_control(store)
    assert isinstance(worker_bus, RedisControlBus)
    d = LocalDispatcher(store, watchdog_interval_s=10.0, control=worker_bus)
    # The console's side: a bus of its own, in what could be another process.
    console = RedisControlBus.from_url(redis11_url, prefix=redis_prefix)
    outcomes: list[JobOutcome] = []
    try:
        handler = CommandedCall()
        runner = add_runner(d, handler)
        runner.on_done = lambda _job, outcome, _err: outcomes.append(outcome)
        await d.dispatch(LocalRoom("call-1"))
        result = await console.send("call-1", Coach(text="hi", by="sam"))
        assert result.data == {"worker": runner.worker_id}
        # Another worker takes the lease (as after a stall): the runner must stop the call.
        await store.client.delete(store.key("lease", "call-1"))
        thief = await store.acquire("call-1", "w-thief", room_name="r", agent_name="a", ttl_s=5)
        assert thief is not None
        await until(lambda: _idle(runner), 5, "the runner to give the call up")
        assert outcomes == [JobOutcome.LOST]
        # The call lives on (leased) but nobody serves it yet: the command waits, then times out.
        with pytest.raises(CommandTimeout):
            await console.send("call-1", Hangup(), timeout=0.5)
        assert handler.ran == [(runner.worker_id, "coach")]
    finally:
        await console.aclose()
        await d.aclose()
        await worker_bus.aclose()
        await store.aclose()


async def _idle(runner: CallRunner) -> bool:
    return runner.active == 0


async def _ready(room: LocalRoom) -> LocalRoom:
    return room
