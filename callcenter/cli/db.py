"""`callcenter db ...`: schema migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from callcenter import migrate
from callcenter.config import get_settings

app = typer.Typer(help="Database schema: create and migrate.", no_args_is_help=True)
console = Console()


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Create or migrate the schema (safe to run repeatedly)."""
    url = get_settings().effective_database_url
    before = migrate.current(url) if _reachable(url) else None
    migrate.upgrade(url, revision)
    after = migrate.current(url)
    where = _display(url)
    if before == after:
        console.print(f"[green]Database {where} already at {after}[/green]")
    else:
        console.print(f"[green]Database {where} upgraded {before or 'empty'} -> {after}[/green]")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base")) -> None:
    """Roll the schema back to REVISION."""
    url = get_settings().effective_database_url
    migrate.downgrade(url, revision)
    console.print(f"Database {_display(url)} at {migrate.current(url) or 'base'}")


@app.command()
def current() -> None:
    """Print the schema revision."""
    url = get_settings().effective_database_url
    console.print(migrate.current(url) or "empty (run `callcenter db upgrade`)")


def _reachable(url: str) -> bool:
    from callcenter.db import check_connection, engine_for

    check_connection(engine_for(url))
    return True


def _display(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
