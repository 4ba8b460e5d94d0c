"""Run Alembic migrations from code (the CLI and the tests use this, not a shell-out)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from callcenter.db import check_connection, engine_for

# alembic/ sits next to the package in a source checkout.
_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    ini = _ROOT / "alembic.ini"
    if not ini.exists():
        raise FileNotFoundError(
            f"alembic.ini not found at {ini}: run from a source checkout of callcenter"
        )
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(_ROOT / "alembic"))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (idempotent)."""
    check_connection(engine_for(url))
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    check_connection(engine_for(url))
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine_for(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
