"""Fixtures for post-call tests: a migrated SQLite database, settings, Redis DB 9, workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from callcenter import migrate
from callcenter.config import Settings, load_settings
from callcenter.db import engine_for

POSTCALL_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379") + "/9"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_unavailable(message: str) -> None:
    """Fail under CI, skip elsewhere (with how to start the service)."""
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def migrated_sqlite(tmp_path: Path) -> tuple[str, Engine]:
    """A SQLite database brought to head by the real migrations."""
    url = f"sqlite:///{tmp_path / 'postcall.db'}"
    migrate.upgrade(url)
    return url, engine_for(url)


@pytest.fixture
def make_settings(tmp_path: Path) -> object:
    """Settings factory: test defaults plus overrides."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data"}
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def postcall_redis_url() -> Iterator[str]:
    """Redis DB 9 (ours alone), flushed before and after."""
    import redis

    client = redis.Redis.from_url(POSTCALL_REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        service_unavailable(
            f"Redis unreachable ({exc}); start it: redis-server --daemonize yes --bind 127.0.0.1 "
            "--port 6379 --save '' --appendonly no"
        )
    try:
        yield POSTCALL_REDIS_URL
    finally:
        try:
            client.flushdb()
        finally:
            client.close()
