"""The machine's Redis for tests: DB 11, shared by suites and runs, never flushed.

Each test works under a key prefix of its own and deletes only its own keys. Under CI=true
an unreachable Redis fails the test; elsewhere it is skipped with how to start Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/11"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_redis(url: str = REDIS_URL) -> None:
    """Fail (CI) or skip (elsewhere) unless Redis answers at `url`."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        msg = (f"Redis unreachable at {url} ({exc}); start it with "
               "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''")
        if IN_CI:
            pytest.fail("CI=true and " + msg, pytrace=False)
        pytest.skip(msg)
    finally:
        client.close()


def new_prefix() -> str:
    return f"cctest:{uuid.uuid4().hex[:10]}:"


def delete_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis11_url() -> str:
    """Redis DB 11 (see the module docstring)."""
    require_redis()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis11_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = new_prefix()
    yield prefix
    delete_prefix(redis11_url, prefix)
