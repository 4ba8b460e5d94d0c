"""The ControlBus contract, run against the in-process bus and the Redis bus alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from callcenter.control import (
    CallNotLive,
    Coach,
    Command,
    CommandHandler,
    CommandRejected,
    CommandResult,
    CommandTimeout,
    CommandUnsupported,
    ControlBus,
    HandBack,
    Hangup,
    InProcessControlBus,
    NotOwner,
    Ping,
    ServeHandle,
    SetListenOnly,
)
from callcenter.control.redis_bus import RedisControlBus
from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.dispatch.store import CheckpointStore, Lease


@dataclass
class Harness:
    """A bus and the store whose leases it is fenced by."""

    bus: ControlBus
    store: CheckpointStore
    seen: list[Command] = field(default_factory=list)

    async def hold(self, call_id: str, worker_id: str = "w-a", ttl_s: float = 5.0) -> Lease:
        lease = await self.store.acquire(
            call_id, worker_id, room_name=call_id, agent_name="callcenter", ttl_s=ttl_s
        )
        assert lease is not None
        return lease

    async def record(self, command: Command) -> CommandResult:
        self.seen.append(command)
        return CommandResult(data={"kind": command.kind})

    async def serve_recording(self, call_id: str) -> tuple[Lease, ServeHandle]:
        lease = await self.hold(call_id)
        return lease, await self.bus.serve(lease, self.record)


@pytest.fixture(params=["memory", "redis"])
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        harness = Harness(InProcessControlBus(), MemoryCheckpointStore())
    else:
        store = RedisCheckpointStore.from_url(
            request.getfixturevalue("redis11_url"), prefix=request.getfixturevalue("redis_prefix")
        )
        harness = Harness(RedisControlBus(store, poll_s=0.2, refresh_s=0.2), store)
    yield harness
    await harness.bus.aclose()
    await harness.store.aclose()


async def test_a_command_reaches_the_calls_handler_and_its_result_comes_back(h: Harness) -> None:
    await h.serve_recording("call-1")
    result = await h.bus.send("call-1", Coach(text="offer the refund", by="sam", issued_by="u7"))
    assert result == CommandResult(data={"kind": "coach"})
    assert h.seen == [Coach(text="offer the refund", by="sam", issued_by="u7")]


async def test_a_refusal_by_the_handler_reaches_the_sender_as_the_same_typed_error(
    h: Harness,
) -> None:
    async def refuse(command: Command) -> CommandResult:
        if isinstance(command, HandBack):
            raise CommandRejected("", f"hand back to unknown node {command.node!r}")
        raise CommandUnsupported("", command.kind)

    await h.bus.serve(await h.hold("call-1"), refuse)
    with pytest.raises(CommandRejected) as rejected:
        await h.bus.send("call-1", HandBack(node="x"))
    assert rejected.value.call_id == "call-1"
    assert rejected.value.reason == "hand back to unknown node 'x'"
    assert "call 'call-1' refused the command: hand back to unknown node 'x'" in str(rejected.value)
    with pytest.raises(CommandUnsupported) as unsupported:
        await h.bus.send("call-1", SetListenOnly(on=True))
    assert unsupported.value.kind == "set_listen_only"


async def test_a_handler_that_crashes_answers_rejected_with_the_cause(h: Harness) -> None:
    async def crash(command: Command) -> CommandResult:
        raise ValueError("no room")

    await h.bus.serve(await h.hold("call-1"), crash)
    with pytest.raises(CommandRejected, match="handler failed: ValueError: no room"):
        await h.bus.send("call-1", Hangup())


async def test_an_unknown_call_is_not_live_at_once(h: Harness) -> None:
    t0 = time.monotonic()
    with pytest.raises(CallNotLive, match="no live call with id 'nope': it ended or never started"):
        await h.bus.send("nope", Ping(), timeout=5.0)
    assert time.monotonic() - t0 < 0.5


async def test_a_call_that_ended_is_not_live(h: Harness) -> None:
    lease, handle = await h.serve_recording("call-1")
    assert (await h.bus.send("call-1", Ping())).ok
    # What the runner does when a call ends: stop serving, then finish the lease.
    await handle.aclose()
    await h.store.finish(lease)
    assert handle.closed
    t0 = time.monotonic()
    with pytest.raises(CallNotLive):
        await h.bus.send("call-1", Hangup(), timeout=5.0)
    assert time.monotonic() - t0 < 0.5
    assert h.seen == []


async def test_a_hung_handler_times_out_and_the_next_command_still_runs(h: Harness) -> None:
    hang = asyncio.Event()

    async def handler(command: Command) -> CommandResult:
        if isinstance(command, Hangup):
            await hang.wait()
        return CommandResult(data={"kind": command.kind})

    await h.bus.serve(await h.hold("call-1"), handler)
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout) as timeout:
        await h.bus.send("call-1", Hangup(), timeout=0.4)
    assert 0.35 < time.monotonic() - t0 < 1.5
    assert timeout.value.seconds == 0.4
    # The hung command was given up on at its deadline: it no longer blocks the call's queue.
    result = await h.bus.send("call-1", SetListenOnly(on=False), timeout=2.0)
    assert result.data == {"kind": "set_listen_only"}


async def test_ping_is_answered_by_the_bus_with_who_serves_the_call(h: Harness) -> None:
    async def refuse_all(command: Command) -> CommandResult:
        raise CommandUnsupported("", command.kind)

    lease = await h.hold("call-1", worker_id="w-ping")
    await h.bus.serve(lease, refuse_all)
    result = await h.bus.send("call-1", Ping())
    assert result.data == {"worker_id": "w-ping", "token": lease.token}


async def test_commands_to_one_call_run_one_at_a_time(h: Harness) -> None:
    running, overlaps, ran = 0, 0, []

    async def slow(command: Command) -> CommandResult:
        nonlocal running, overlaps
        running += 1
        overlaps += running > 1
        await asyncio.sleep(0.02)
        assert isinstance(command, Coach)
        ran.append(command.text)
        running -= 1
        return CommandResult()

    await h.bus.serve(await h.hold("call-1"), slow)
    texts = [f"line {i}" for i in range(6)]
    await asyncio.gather(*(h.bus.send("call-1", Coach(text=t, by="sam")) for t in texts))
    assert overlaps == 0 and sorted(ran) == texts


async def test_a_stale_lease_cannot_serve_a_call_a_newer_lease_serves(h: Harness) -> None:
    old = await h.hold("call-1", worker_id="w-old", ttl_s=0.05)
    await asyncio.sleep(0.1)  # the old holder stalled; its lease expired
    new = await h.hold("call-1", worker_id="w-new")
    assert new.token > old.token
    await h.bus.serve(new, h.record)
    with pytest.raises(NotOwner) as fenced:
        await h.bus.serve(old, h.record)
    assert fenced.value.holder == new.holder
    assert (await h.bus.send("call-1", Ping())).data["worker_id"] == "w-new"


async def test_commands_to_different_calls_reach_their_own_handlers(h: Harness) -> None:
    def named(name: str) -> CommandHandler:
        async def handler(command: Command) -> CommandResult:
            return CommandResult(data={"call": name})

        return handler

    for call in ("call-a", "call-b"):
        await h.bus.serve(await h.hold(call), named(call))
    assert (await h.bus.send("call-b", Hangup())).data == {"call": "call-b"}
    assert (await h.bus.send("call-a", Hangup())).data == {"call": "call-a"}
