"""Fixtures for call-control tests: real Redis (DB 11) under a key prefix of each test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/11"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def redis11_url() -> Iterator[str]:
    """Redis DB 11, shared with other suites and runs: never flushed (see `redis_prefix`)."""
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
