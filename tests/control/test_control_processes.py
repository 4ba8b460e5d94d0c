"""Call control across processes on real Redis: the command reaches the process holding the call,
an ended call is not live, and a holder whose lease was fenced answers NotOwner without running
the command."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.control import (
    CallNotLive,
    Coach,
    Command,
    CommandResult,
    ControlError,
    Hangup,
    NotOwner,
    Ping,
)
from callcenter.control.redis_bus import RedisControlBus
from callcenter.dispatch.redis_store import RedisCheckpointStore

HOLDER = Path(__file__).with_name("holder.py")
REPO = Path(__file__).parents[2]


class Holders:
    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, call_id: str, mode: str) -> tuple[asyncio.subprocess.Process, int]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HOLDER), self.url, self.prefix, call_id, mode,
            cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"ready "), line
        return proc, int(line.split()[1])


@pytest.fixture
async def holders(redis11_url: str, redis_prefix: str) -> AsyncIterator[Holders]:
    h = Holders(redis11_url, redis_prefix)
    yield h
    for proc in h.procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.fixture
async def store(redis11_url: str, redis_prefix: str) -> AsyncIterator[RedisCheckpointStore]:
    s = RedisCheckpointStore.from_url(redis11_url, prefix=redis_prefix)
    yield s
    await s.aclose()


@pytest.fixture
async def bus(store: RedisCheckpointStore) -> AsyncIterator[RedisControlBus]:
    b = RedisControlBus(store, poll_s=0.2, refresh_s=0.2)
    yield b
    await b.aclose()


async def ran(store: RedisCheckpointStore, call_id: str) -> list[str]:
    key = store.key("test:ran", call_id)
    items: list[bytes] = await store.client.lrange(key, 0, -1)  # type: ignore[misc,assignment]
    return [x.decode() for x in items]


async def test_a_command_reaches_the_call_held_by_another_worker_process(
    holders: Holders, bus: RedisControlBus, store: RedisCheckpointStore
) -> None:
    proc, _token = await holders.start("call-x", "hold")
    result = await bus.send("call-x", Coach(text="offer the refund", by="sam"), timeout=5.0)
    assert result.data == {"pid": proc.pid, "kind": "coach"}
    assert await ran(store, "call-x") == [f"{proc.pid} coach"]


async def test_a_command_to_a_call_that_ended_gets_call_not_live(
    holders: Holders, bus: RedisControlBus, store: RedisCheckpointStore
) -> None:
    proc, _token = await holders.start("call-x", "hold")
    assert (await bus.send("call-x", Hangup(), timeout=5.0)).data["kind"] == "hangup"
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    t0 = time.monotonic()
    with pytest.raises(CallNotLive):
        await bus.send("call-x", Ping(), timeout=5.0)
    assert time.monotonic() - t0 < 0.5
    assert await ran(store, "call-x") == [f"{proc.pid} hangup"]


async def test_a_fenced_holder_answers_not_owner_and_does_not_run_the_command(
    holders: Holders, bus: RedisControlBus, store: RedisCheckpointStore
) -> None:
    proc, old_token = await holders.start("call-x", "stall")
    lease_key = store.key("lease", "call-x")
    deadline = time.monotonic() + 5
    while await store.client.exists(lease_key):  # the stalled holder's lease expires
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    # This process takes the call over, as a re-dispatch would; the stalled one is now fenced.
    lease = await store.acquire("call-x", "w-new", room_name="call-x", agent_name="cc", ttl_s=5)
    assert lease is not None and lease.token == old_token + 1
    # The stalled holder still advertises itself, so the command reaches it: it must refuse.
    with pytest.raises(NotOwner) as fenced:
        await bus.send("call-x", Coach(text="offer the refund", by="sam"), timeout=5.0)
    assert fenced.value.holder == lease.holder
    assert "did not run" in str(fenced.value)
    assert await ran(store, "call-x") == []
    assert proc.returncode is None

    # Nothing is lost: sent again once the new holder serves, it runs there, once.
    seen: list[Command] = []

    async def record(command: Command) -> CommandResult:
        seen.append(command)
        return CommandResult(data={"worker": "w-new"})

    await bus.serve(lease, record)
    result = await bus.send("call-x", Coach(text="offer the refund", by="sam"), timeout=5.0)
    assert result.data == {"worker": "w-new"}
    assert seen == [Coach(text="offer the refund", by="sam")]
    assert await ran(store, "call-x") == []


async def test_an_unreachable_redis_is_one_clear_control_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nowhere = RedisControlBus.from_url(f"redis://127.0.0.1:{port}/0", prefix="cctest:none:")
    try:
        with pytest.raises(ControlError, match=r"call control is unavailable .*REDIS_URL"):
            await nowhere.send("call-x", Ping(), timeout=1.0)
    finally:
        await nowhere.aclose()


async def test_a_command_sent_between_holders_runs_once_on_the_next_holder(
    bus: RedisControlBus, store: RedisCheckpointStore
) -> None:
    old = await store.acquire("call-x", "w-old", room_name="call-x", agent_name="cc", ttl_s=5)
    assert old is not None
    await store.release(old)  # drained: the call waits for the watchdog to re-dispatch it
    pending = asyncio.ensure_future(bus.send("call-x", Coach(text="hi", by="sam"), timeout=5.0))
    await asyncio.sleep(0.3)
    assert not pending.done()  # not "not live": the call is only between workers
    new = await store.acquire("call-x", "w-new", room_name="call-x", agent_name="cc", ttl_s=5)
    assert new is not None
    seen: list[Command] = []

    async def record(command: Command) -> CommandResult:
        seen.append(command)
        return CommandResult(data={"worker": "w-new"})

    await bus.serve(new, record)
    assert (await pending).data == {"worker": "w-new"}
    assert seen == [Coach(text="hi", by="sam")]
