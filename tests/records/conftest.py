"""Stored-call query tests run on both databases (their SQL differs by dialect), each
seeded once per module: a few thousand calls take a while to generate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from callcenter.bench.admin_seed import SeedResult, seed_calls
from callcenter.db import engine_for

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
N = 3_000


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeded_db(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, SeedResult]]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("records") / "calls.db"
        engine = engine_for(f"sqlite:///{path}")
    else:
        engine = engine_for(request.getfixturevalue("pg_url"))
    SQLModel.metadata.create_all(engine)
    try:
        yield engine, seed_calls(engine, N, days=10, seed=3, now=NOW)
    finally:
        SQLModel.metadata.drop_all(engine)
