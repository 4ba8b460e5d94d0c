"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from callcenter import migrate
from callcenter.db import engine_for


def _diff(url: str) -> list[object]:
    with engine_for(url).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, SQLModel.metadata))


def _tables(url: str) -> set[str]:
    return set(sa.inspect(engine_for(url)).get_table_names())


def _check_round_trip(url: str) -> None:
    migrate.upgrade(url)
    assert migrate.current(url) is not None
    assert _diff(url) == [], "models and migrations disagree: run alembic revision --autogenerate"
    assert {"calls", "utterances", "flows", "flow_versions", "escalations", "users"} <= _tables(url)

    migrate.downgrade(url, "base")
    assert _tables(url) <= {"alembic_version"}

    migrate.upgrade(url)
    assert _diff(url) == []


def test_sqlite_upgrade_matches_models_and_round_trips(sqlite_url: str) -> None:
    _check_round_trip(sqlite_url)


def test_postgres_upgrade_matches_models_and_round_trips(pg_url: str) -> None:
    try:
        _check_round_trip(pg_url)
    finally:
        # Leave the shared session database empty for other tests.
        migrate.downgrade(pg_url, "base")
        with engine_for(pg_url).begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def test_upgrade_twice_is_harmless(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    first = migrate.current(sqlite_url)
    migrate.upgrade(sqlite_url)
    assert migrate.current(sqlite_url) == first
