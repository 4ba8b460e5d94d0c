"""Leases, fencing tokens and checkpoints: the same contract in memory and on real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.dispatch.store import CheckpointStore, LeaseLost

TTL = 0.3


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CheckpointStore]:
    if request.param == "memory":
        yield MemoryCheckpointStore()
        return
    url = request.getfixturevalue("redis11_url")
    prefix = request.getfixturevalue("redis_prefix")
    s = RedisCheckpointStore.from_url(url, prefix=prefix, lease_ttl_s=TTL)
    yield s
    await s.aclose()


async def test_a_held_call_cannot_be_taken_by_another_worker(store: CheckpointStore) -> None:
    lease = await store.acquire("c1", "A", room_name="r", agent_name="cc", ttl_s=TTL)
    assert lease is not None and lease.token == 1
    assert await store.acquire("c1", "B", room_name="r", agent_name="cc", ttl_s=TTL) is None
    assert await store.orphaned() == []


async def test_checkpoints_round_trip_with_increasing_sequence(store: CheckpointStore) -> None:
    lease = await store.acquire("c1", "A", room_name="r", agent_name="cc", ttl_s=TTL)
    assert lease is not None
    assert await store.save(lease, {"turn": 1, "slots": {"name": "Ann"}}) == 1
    assert await store.save(lease, {"turn": 2, "slots": {"name": "Ann", "zip": "02139"}}) == 2
    ck = await store.load("c1")
    assert ck is not None
    assert ck.seq == 2 and ck.token == 1 and ck.worker_id == "A"
    assert ck.data == {"turn": 2, "slots": {"name": "Ann", "zip": "02139"}}


async def test_stale_worker_is_fenced_off_after_takeover(store: CheckpointStore) -> None:
    a = await store.acquire("c1", "A", room_name="r", agent_name="cc", ttl_s=TTL)
    assert a is not None
    await store.save(a, {"turn": 1})
    await asyncio.sleep(TTL + 0.1)  # A stops heartbeating: its lease lapses
    assert [c.call_id for c in await store.orphaned()] == ["c1"]
    b = await store.acquire("c1", "B", room_name="r", agent_name="cc", ttl_s=TTL)
    assert b is not None and b.token == a.token + 1
    # A wakes up (GC pause, partition): it can neither write nor keep the call.
    with pytest.raises(LeaseLost):
        await store.save(a, {"turn": 99})
    assert await store.renew([a], TTL) == [a]
    with pytest.raises(LeaseLost):
        await store.finish(a)
    ck = await store.load("c1")
    assert ck is not None and ck.data == {"turn": 1}
    assert await store.renew([b], TTL) == []


async def test_finished_call_is_never_taken_again(store: CheckpointStore) -> None:
    a = await store.acquire("c1", "A", room_name="r", agent_name="cc", ttl_s=TTL)
    assert a is not None
    await store.save(a, {"done": True})
    await store.finish(a)
    assert await store.acquire("c1", "B", room_name="r", agent_name="cc", ttl_s=TTL) is None
    assert await store.orphaned() == []
    assert (await store.load("c1")) is not None  # kept for post-call


async def test_released_call_is_orphaned_at_once(store: CheckpointStore) -> None:
    a = await store.acquire("c1", "A", room_name="r1", agent_name="cc", ttl_s=10)
    assert a is not None
    await store.release(a)
    orphans = await store.orphaned()
    assert [(o.call_id, o.room_name, o.agent_name, o.worker_id) for o in orphans] == [
        ("c1", "r1", "cc", "A")
    ]


async def test_redispatch_claim_and_watchdog_lock_have_one_winner(store: CheckpointStore) -> None:
    assert await store.claim_redispatch("c1", 5.0)
    assert not await store.claim_redispatch("c1", 5.0)
    assert await store.try_lock("watchdog", "A", TTL)
    assert not await store.try_lock("watchdog", "B", TTL)
    assert await store.try_lock("watchdog", "A", TTL)  # the holder extends
    await asyncio.sleep(TTL + 0.1)
    assert await store.try_lock("watchdog", "B", TTL)


async def test_worker_heartbeats_expire(store: CheckpointStore) -> None:
    await store.worker_heartbeat("A", {"active_calls": 2}, TTL)
    assert (await store.live_workers())["A"]["active_calls"] == 2
    await asyncio.sleep(TTL + 0.1)
    assert "A" not in await store.live_workers()
