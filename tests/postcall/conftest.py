"""Fixtures for post-call tests: a migrated SQLite database, settings, a private Redis, workers.

Celery's Redis keys are global (no prefix), and these tests empty the broker between tests,
so they run against a redis-server of their own on a free port, never the machine's Redis.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from callcenter import migrate
from callcenter.config import Settings, load_settings
from callcenter.db import engine_for

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test session's own, on a free port, stopped by its pid."""

    def __init__(self, binary: str) -> None:
        self.binary, self.port = binary, _free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
            service_unavailable(f"our redis-server on port {self.port} did not start")
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # a crash: Redis keeps nothing (no save, no AOF)
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        service_unavailable("redis-server is not installed (apt-get install redis-server)")
    server = PrivateRedis(str(binary))
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
