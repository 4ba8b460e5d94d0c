"""`bench dispatch` crashed when Redis blipped during its failover phase: its reads and
waits now look again through an outage. Shown on a Redis of the test's own, crashed and
restarted by its pid while the bench's helpers read from it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from callcenter.bench.dispatch import _read, _until
from tests.redis_server import PrivateRedis, redis_binary


@pytest.fixture
def server() -> Iterator[PrivateRedis]:
    srv = PrivateRedis(redis_binary(), persist=True)  # the key survives the crash
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


async def test_reads_and_waits_ride_out_a_redis_crash(server: PrivateRedis) -> None:
    r = aioredis.Redis.from_url(server.url, decode_responses=True, socket_connect_timeout=0.5,
                                socket_timeout=0.5)
    try:
        await r.set("k", "v")
        server.stop()  # crashed: every command now fails with a connection error

        async def back() -> None:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.start)

        restart = asyncio.create_task(back())
        assert await _read(lambda: r.get("k"), timeout=30) == "v"  # read after it came back
        await restart
        server.stop()
        restart = asyncio.create_task(back())

        async def present() -> bool:
            return bool(await r.exists("k"))

        await _until(present, 30)  # polled through the outage, no exception
        await restart
    finally:
        await r.aclose()


async def test_a_wait_that_never_comes_true_is_a_timeout_not_a_hang(
    server: PrivateRedis,
) -> None:
    r = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        async def absent() -> bool:
            return bool(await r.exists("never"))

        with pytest.raises(TimeoutError, match="did not complete"):
            await _until(absent, 0.3)
    finally:
        await r.aclose()
