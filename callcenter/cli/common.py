"""What several `callcenter` commands share: a database session with a clear schema error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from sqlmodel import Session

err = Console(stderr=True)


@contextmanager
def db_session() -> Iterator[Session]:
    """A session on the configured database; a missing schema is one line, exit 2."""
    from callcenter.db import get_engine, session_scope

    try:
        with session_scope(get_engine()) as session:
            yield session
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            err.print("[red]error:[/red] the database has no schema yet; run "
                      "`callcenter db upgrade` first")
            raise typer.Exit(2) from None
        raise


def fail(message: str) -> typer.Exit:
    """An error line on stderr; raise the result (exit 1)."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)
