"""Web app fixtures: the real app on a real database, with an admin and a supervisor."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from admin.app import create_app
from callcenter.accounts import create_user
from callcenter.config import Settings, load_settings
from tests.web.support import PASSWORD, SECRET, login

ADMIN, SUPERVISOR = "admin@example.com", "sup@example.com"


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """Both databases, for tests whose behaviour goes through dialect-specific SQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    value: Engine = request.getfixturevalue(name)
    return value


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


@pytest.fixture
def settings() -> Settings:
    return load_settings(secret_key=SECRET)


def seed_users(engine: Engine) -> None:
    with Session(engine) as db:
        create_user(db, ADMIN, PASSWORD, "admin", display_name="Ada Admin")
        create_user(db, SUPERVISOR, PASSWORD, "supervisor", display_name="Sam Supervisor")
        db.commit()


@pytest.fixture
def make_app(settings: Settings) -> Callable[..., FastAPI]:
    def make(engine: Engine, **overrides: object) -> FastAPI:
        s = load_settings(**{"secret_key": SECRET, **overrides}) if overrides else settings
        return create_app(s, engine=engine, enqueue_postcall=lambda _call_id: None)

    return make


@pytest.fixture
def app(engine: Engine, make_app: Callable[..., FastAPI]) -> FastAPI:
    seed_users(engine)
    return make_app(engine)


@pytest.fixture
def anon(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture
def admin_client(app: FastAPI) -> TestClient:
    client = TestClient(app)
    assert login(client, ADMIN).status_code == 303
    return client


@pytest.fixture
def supervisor_client(app: FastAPI) -> TestClient:
    client = TestClient(app)
    assert login(client, SUPERVISOR).status_code == 303
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the same code paths, without 0.3 s per hash on a busy CI box.

    test_accounts_passwords checks the production parameters separately.
    """
    from argon2 import PasswordHasher

    from callcenter.accounts import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    passwords._dummy_hash.cache_clear()
