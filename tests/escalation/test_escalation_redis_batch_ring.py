"""The Redis broker's plumbing: concurrent commands share a pipeline, errors go back to
the caller that made them, offers ring over pub/sub, and a lost ring or a Redis restart
delays an offer but never loses it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from callcenter.escalation import Queue
from callcenter.escalation.redis_batch import CommandBatch
from callcenter.escalation.redis_broker import RedisEscalationBroker
from tests.escalation.helpers import call, online
from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from tests.redis_server import PrivateRedis, redis_binary

QUEUES = [Queue("support", accept_timeout_s=30.0)]


@pytest.fixture
def prefix() -> Iterator[str]:
    require_redis(REDIS_URL)
    p = new_prefix()
    yield p
    delete_prefix(REDIS_URL, p)


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    require_redis(REDIS_URL)
    r = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield r
    await r.aclose()


async def test_a_burst_of_calls_goes_out_as_one_pipeline(client: aioredis.Redis, prefix: str):
    opened = 0
    real = client.pipeline

    def counting(*a: object, **kw: object) -> object:
        nonlocal opened
        opened += 1
        return real(*a, **kw)  # type: ignore[arg-type]

    client.pipeline = counting  # type: ignore[method-assign]
    batch = CommandBatch(client)
    keys = [f"{prefix}k{i}" for i in range(200)]
    await asyncio.gather(*(batch.call("SET", k, str(i)) for i, k in enumerate(keys)))
    values = await asyncio.gather(*(batch.call("GET", k) for k in keys))
    assert values == [str(i) for i in range(200)]
    assert opened == 2  # one pipeline for the 200 SETs, one for the 200 GETs


async def test_an_error_goes_back_only_to_the_caller_that_made_it(
    client: aioredis.Redis, prefix: str
):
    batch = CommandBatch(client)
    await client.set(f"{prefix}word", "hello")
    got = await asyncio.gather(
        batch.call("INCR", f"{prefix}word"), batch.call("GET", f"{prefix}word"),
        batch.call("INCR", f"{prefix}n"), return_exceptions=True,
    )
    assert isinstance(got[0], ResponseError)
    assert got[1:] == ["hello", 1]


async def _offered(broker: RedisEscalationBroker, sup: str, call_id: str) -> None:
    await online(broker, sup)
    await broker.enqueue(call(call_id))
    [offer] = await broker.route_once()
    assert offer.supervisor_id == sup


async def test_a_waiting_supervisor_is_rung_by_pub_sub_not_by_the_fallback(prefix: str):
    # The fallback look is 60 s away and the wait 20 s: only the ring can deliver this.
    broker = RedisEscalationBroker.from_url(REDIS_URL, QUEUES, prefix=prefix,
                                            ring_fallback_s=60.0)
    try:
        await online(broker, "ana")
        waiting = asyncio.ensure_future(broker.next_offer("ana", 20.0))
        await asyncio.sleep(0.2)  # ana is waiting (inbox looked at, empty)
        assert not waiting.done()
        await _offered(broker, "ana", "c1")
        offer = await asyncio.wait_for(waiting, 20.0)
        assert offer is not None and offer.call_id == "c1"
    finally:
        await broker.aclose()


async def test_a_lost_ring_still_delivers_the_offer_at_the_next_look(prefix: str):
    broker = RedisEscalationBroker.from_url(REDIS_URL, QUEUES, prefix=prefix,
                                            ring_fallback_s=0.3)
    broker._ring._ring = lambda _sup: None  # type: ignore[method-assign]  # every ring lost
    try:
        await online(broker, "ana")
        waiting = asyncio.ensure_future(broker.next_offer("ana", 20.0))
        await asyncio.sleep(0.1)
        await _offered(broker, "ana", "c1")
        offer = await asyncio.wait_for(waiting, 20.0)
        assert offer is not None and offer.call_id == "c1"
    finally:
        await broker.aclose()


async def test_a_withdrawn_offer_in_the_inbox_is_skipped(prefix: str):
    broker = RedisEscalationBroker.from_url(REDIS_URL, QUEUES, prefix=prefix)
    try:
        await _offered(broker, "ana", "c1")
        [stale] = [t for t in await broker.waiting() if t.ticket.offer_id]
        assert stale.ticket.offer_id is not None
        assert await broker.decline(stale.ticket.offer_id, "ana")
        assert await broker.next_offer("ana", 0.2) is None  # its ring is still in the inbox
    finally:
        await broker.aclose()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(redis_binary(), persist=True)
    server.start()
    yield server
    server.close()


async def test_offers_ring_again_after_redis_restarts(private_redis: PrivateRedis):
    broker = RedisEscalationBroker.from_url(private_redis.url, QUEUES, prefix="t:",
                                            ring_fallback_s=0.3)
    try:
        await online(broker, "ana")
        waiting = asyncio.ensure_future(broker.next_offer("ana", 30.0))
        await asyncio.sleep(0.2)
        private_redis.restart()  # the subscription and the pooled connections drop
        offer = None
        for _ in range(100):  # the first commands after the restart may hit dead sockets
            try:
                await _offered(broker, "ana", "c1")
                break
            except (ConnectionError, OSError, aioredis.ConnectionError):
                await asyncio.sleep(0.1)
        offer = await asyncio.wait_for(waiting, 30.0)
        assert offer is not None and offer.call_id == "c1"
        # The script cache died with the server and was loaded again on first use.
        assert await broker.accept(offer.offer_id, "ana") is not None
    finally:
        await broker.aclose()
