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
    """Entry point: bad input, configuration and connection errors become one clear line.

    Click's usage errors are caught here rather than drawn as a framed box with the usage
    text (several lines, some of them noise); a database that cannot be reached or has no
    schema is one line for every command, not a traceback from whichever query came first.
    """
    # Typer 0.2x vendors its own click: its exceptions live in typer._click, not click.
    from typer._click import exceptions as click_errors

    from callcenter.config import SettingsError
    from callcenter.db import DatabaseError

    try:
        _check_output_paths(sys.argv[1:])
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()  # the group's help, and click's exit status for it
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:
        _error(_usage_line(exc))
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        _error("aborted")
        sys.exit(1)
    except click_errors.ClickException as exc:
        _error(exc.format_message())
        sys.exit(exc.exit_code)
    except (SettingsError, DatabaseError) as exc:
        _error(str(exc))
        sys.exit(2)
    except Exception as exc:
        line = _database_line(exc)
        if line is None:
            raise
        _error(line)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


def _error(text: str) -> None:
    from rich.markup import escape

    Console(stderr=True).print(f"[red]error:[/red] {escape(text)}", highlight=False,
                               soft_wrap=True)


def _usage_line(exc: Any) -> str:
    """`Invalid value for '--max-calls': ...`, then where to look (the command's --help)."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    return f"{message}; see `{ctx.command_path} --help`" if ctx is not None else message


def _database_line(exc: BaseException) -> str | None:
    """One line for a database that is unreachable, refuses us or has no schema; else None."""
    import sqlalchemy as sa

    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError |
                      sa.exc.ProgrammingError):
        return None
    text = str(exc.orig if exc.orig is not None else exc)
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return "the database has no schema yet; run `callcenter db upgrade` first"
    from callcenter.config import get_settings

    url = sa.engine.make_url(get_settings().effective_database_url)
    reason = " ".join(text.strip().splitlines()[0].split()) if text.strip() else type(exc).__name__
    return (f"DATABASE_URL: cannot use {url.render_as_string(hide_password=True)}: {reason}. "
            "Check DATABASE_URL (and that the server runs), or unset it to use the embedded "
            "SQLite database.")


def _check_output_paths(args: list[str]) -> None:
    """Every `--json PATH` of this CLI names a file we will write: check it can be, first.

    Finding out after a 30-minute bench or a whole call that the folder does not exist is
    the failure this prevents; the check runs before any command starts its work.
    """
    import os
    from pathlib import Path

    from callcenter.config import SettingsError

    for i, arg in enumerate(args):
        if arg == "--json" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--json="):
            value = arg.split("=", 1)[1]
        else:
            continue
        path = Path(value)
        parent = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise SettingsError(f"--json {value}: is a folder; give a file name, "
                                f"e.g. {path / 'result.json'}")
        if not parent.is_dir():
            raise SettingsError(f"--json {value}: folder {parent} does not exist; create it "
                                "or write somewhere else")
        if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise SettingsError(f"--json {value}: cannot write there (permission denied)")


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

from callcenter.cli import flow_test as _flow_test  # noqa: E402

_flows.app.command(name="test")(_flow_test.test)

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
