"""The `callcenter` command line. Each command group lives in its own module here."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console

app = typer.Typer(
    name="callcenter",
    help="Open-source contact center for AI voice agents on LiveKit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"callcenter {_version()}")
        raise typer.Exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("callcenter")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit",
    ),
) -> None:
    pass


def main() -> Any:
    """Entry point: known configuration and connection errors become one clear line."""
    from callcenter.config import SettingsError
    from callcenter.db import DatabaseError

    try:
        return app()
    except (SettingsError, DatabaseError) as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


# Command groups register below, one line each.
from callcenter.cli import db as _db  # noqa: E402

app.add_typer(_db.app, name="db")

from callcenter.cli import worker as _worker  # noqa: E402

app.command(name="worker")(_worker.worker)

from callcenter.cli import postcall as _postcall  # noqa: E402

app.add_typer(_postcall.app, name="postcall")

from callcenter.cli import livekit as _livekit  # noqa: E402

app.add_typer(_livekit.app, name="livekit")

from callcenter.cli import chat as _chat  # noqa: E402
from callcenter.cli import flows as _flows  # noqa: E402

app.add_typer(_flows.app, name="flows")
app.command(name="chat")(_chat.chat)

from callcenter.cli import call as _call  # noqa: E402

app.command(name="call")(_call.call)

from callcenter.cli import bench as _bench  # noqa: E402

app.add_typer(_bench.app, name="bench")

from callcenter.cli import providers as _providers  # noqa: E402

app.add_typer(_providers.app, name="providers")

from callcenter.cli import dev as _dev  # noqa: E402

app.command(name="dev")(_dev.dev)

from callcenter.cli import api as _api  # noqa: E402
from callcenter.cli import users as _users  # noqa: E402

app.add_typer(_users.app, name="users")
app.command(name="api")(_api.api)

from callcenter.cli import calls as _calls  # noqa: E402

app.add_typer(_calls.app, name="calls")

from callcenter.cli import supervisor as _supervisor  # noqa: E402

app.command(name="supervisor")(_supervisor.supervisor)

from callcenter.cli import learn as _learn  # noqa: E402

app.add_typer(_learn.app, name="learn")
