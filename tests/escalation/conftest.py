"""Fixtures for the escalation contract suite: one factory per broker kind.

The Redis broker runs on the real Redis (DB 11, shared with other suites, never flushed):
each test works under its own key prefix and deletes only its own keys. Under CI=true a
missing Redis fails the Redis half; elsewhere it is skipped with how to start it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import pytest

from callcenter.escalation import EscalationBroker, InProcessEscalationBroker, Queue
from tests.escalation.helpers import QUEUES, TTL_S, FakeClock
from tests.redis_db import REDIS_URL, require_redis

Make = Callable[..., Awaitable[EscalationBroker]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _redis_or_skip() -> None:
    require_redis(REDIS_URL)


async def _factory(kind: str, clock: FakeClock) -> AsyncIterator[Make]:
    prefix = f"cctest:{uuid.uuid4().hex[:10]}:"
    made: list[EscalationBroker] = []
    if kind == "redis":
        _redis_or_skip()

    async def make(
        queues: Iterable[Queue] = QUEUES, heartbeat_ttl_s: float = TTL_S
    ) -> EscalationBroker:
        broker: EscalationBroker
        if kind == "memory":
            broker = InProcessEscalationBroker(queues, heartbeat_ttl_s=heartbeat_ttl_s,
                                               clock=clock)
        else:
            from callcenter.escalation.redis_broker import RedisEscalationBroker

            broker = RedisEscalationBroker.from_url(
                REDIS_URL, queues, prefix=prefix, heartbeat_ttl_s=heartbeat_ttl_s,
                clock=clock, poll_s=0.01,
            )
        made.append(broker)
        return broker

    yield make
    for b in made:
        await b.aclose()
    if kind == "redis":
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in r.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await r.delete(*keys)
        await r.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_broker(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Make]:
    """`await make(queues=..., heartbeat_ttl_s=...)`: a broker of this test's kind. Redis
    brokers made by one test share its prefix, like several workers on one Redis."""
    async for make in _factory(request.param, clock):
        yield make


@pytest.fixture
async def make_redis(clock: FakeClock) -> AsyncIterator[Make]:
    """Redis brokers only (for what only a shared store can do)."""
    async for make in _factory("redis", clock):
        yield make


@pytest.fixture
async def broker(make_broker: Make) -> EscalationBroker:
    return await make_broker()
