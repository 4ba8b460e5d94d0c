"""Fixtures for dispatch tests: Redis DB 11 (flushed), a fake LiveKit server, local rooms."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from callcenter.testing.livekit import FakeLiveKitServer
from callcenter.testing.livekit.rooms import LocalRoomConnector

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/11"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def redis11_url() -> Iterator[str]:
    """Redis DB 11. Not flushed: two runs of this suite may share it at once, so each
    test works under its own key prefix (`redis_prefix`) and deletes only its own keys."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        msg = (
            f"Redis unreachable at {REDIS_URL} ({exc}); start it with "
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''"
        )
        if IN_CI:
            pytest.fail("CI=true and " + msg, pytrace=False)
        pytest.skip(msg)
    try:
        yield REDIS_URL
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis11_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"cctest:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis11_url)
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def fake_livekit() -> AsyncIterator[FakeLiveKitServer]:
    async with FakeLiveKitServer() as server:
        yield server


@pytest.fixture
def room_log() -> LocalRoomConnector:
    return LocalRoomConnector()
