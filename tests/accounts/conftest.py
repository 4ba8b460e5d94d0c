"""Account tests run on SQLite and PostgreSQL (the lockout counter is dialect-specific SQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    value: Engine = request.getfixturevalue(name)
    return value


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
