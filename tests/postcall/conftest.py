"""Fixtures for post-call tests: a migrated SQLite database, settings, a private Redis, workers.

Celery's Redis keys are global (no prefix), and these tests empty the broker between tests,
so they run against a redis-server of their own on a free port, never the machine's Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from callcenter import migrate
from callcenter.config import Settings, load_settings
from callcenter.db import engine_for
from tests.redis_server import PrivateRedis, redis_binary

__all__ = ["PrivateRedis"]  # tests import it from here


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


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(redis_binary())
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postcall_redis_url(private_redis: PrivateRedis) -> Iterator[str]:
    """DB 9 of the private Redis, emptied before and after each test."""
    import redis

    url = f"{private_redis.url}/9"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    client.flushdb()
    try:
        yield url
    finally:
        try:
            client.flushdb()
        finally:
            client.close()
