"""Shared fixtures: databases, Redis, isolated settings.

PostgreSQL and Redis are real. Under CI=true a test that needs one of them fails when it
is unreachable; elsewhere it is skipped with a reason that says how to start it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import callcenter.models  # noqa: F401  (registers tables)
from callcenter.config import get_settings
from callcenter.db import engine_for
from callcenter.rooms.clock import VirtualClock

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

PG_HOW = (
    "start PostgreSQL on 127.0.0.1:5432 with trust auth "
    "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)"
)
REDIS_HOW = (
    "start Redis on 127.0.0.1:6379 "
    "(redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no)"
)


def unavailable(what: str, why: str, how: str) -> None:
    """Fail under CI (the service must be there), skip elsewhere with how to fix it."""
    message = f"{what} unreachable ({why}); {how}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data directory and a fresh settings object."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    for var in ("DATABASE_URL", "REDIS_URL", "LIVEKIT_URL"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    """A virtual clock for a local-room call (a test file may give its own `clock`)."""
    c = VirtualClock()
    yield c
    await c.aclose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh, empty SQLite database file."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Engine:
    """A fresh SQLite database with the full schema."""
    engine = engine_for(sqlite_url)
    SQLModel.metadata.create_all(engine)
    return engine


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A uniquely named PostgreSQL database for this test session, dropped at the end."""
    admin = sa.create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unavailable("PostgreSQL", str(exc.orig).splitlines()[0], PG_HOW)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        engine_for(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """The session's PostgreSQL database with the full schema, emptied after each test."""
    engine = engine_for(pg_url)
    SQLModel.metadata.create_all(engine)
    yield engine
    SQLModel.metadata.drop_all(engine)
