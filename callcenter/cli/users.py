"""`callcenter users ...`: web app accounts (admins and supervisors).

Passwords are prompted without echo, or read from the first line of stdin with
`--password-stdin` (for scripts); never taken as an argument, which would land in shell
history and in `ps`.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlmodel import Session

from callcenter import accounts
from callcenter.accounts.times import as_utc

app = typer.Typer(
    help="Web app users: create, list, set-role, reset-password, disable.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin")
]


def _actor() -> str:
    """Who ran the command, for the audit log."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry in some containers
        name = os.environ.get("USER", "")
    return f"cli:{name or 'unknown'}"


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _db() -> Iterator[Session]:
    from callcenter.db import get_engine, session_scope

    try:
        with session_scope(get_engine()) as session:
            yield session
    except accounts.AccountError as exc:
        raise _fail(str(exc)) from None
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            raise _fail("the database has no schema yet; run `callcenter db upgrade`", 2) from None
        raise


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _fail("--password-stdin: no password on the first line of stdin")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command()
def create(
    email: Annotated[str, typer.Argument(help="Sign-in email")],
    role: Annotated[str, typer.Option(help="admin or supervisor")] = "supervisor",
    name: Annotated[str, typer.Option(help="Display name")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a user (password prompted, at least 12 characters)."""
    # Cheap checks first, so a typo does not cost a password prompt.
    try:
        accounts.parse_role(role)
        accounts.normalize_email(email)
    except accounts.AccountError as exc:
        raise _fail(str(exc)) from None
    password = _read_password(password_stdin)
    try:
        accounts.check_password_strength(password, email=email)
    except accounts.WeakPassword as exc:
        raise _fail(str(exc)) from None
    with _db() as db:
        user = accounts.create_user(
            db, email, password, role, display_name=name, actor=_actor()
        )
        console.print(
            f"[green]created[/green] {escape(user.email)} ({user.role})", highlight=False
        )


@app.command(name="list")
def list_() -> None:
    """List users with role, status and last sign-in."""
    with _db() as db:
        users = accounts.list_users(db)
    table = Table("email", "name", "role", "active", "last sign-in", box=None, pad_edge=False)
    for u in users:
        last = as_utc(u.last_login_at).strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "-"
        table.add_row(
            escape(u.email), escape(u.display_name), u.role, "yes" if u.active else "no", last
        )
    if users:
        console.print(table)
    else:
        console.print("no users yet: `callcenter users create EMAIL --role admin`")


@app.command(name="set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="Sign-in email")],
    role: Annotated[str, typer.Argument(help="admin or supervisor")],
) -> None:
    """Change a user's role (their open sessions end)."""
    with _db() as db:
        user = accounts.set_role(db, accounts.require_user(db, email), role, actor=_actor())
        console.print(f"{escape(user.email)} is now {user.role}", highlight=False)


@app.command(name="reset-password")
def reset_password(
    email: Annotated[str, typer.Argument(help="Sign-in email")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password (ends open sessions and lifts a sign-in lockout)."""
    with _db() as db:
        user = accounts.require_user(db, email)
    password = _read_password(password_stdin)
    with _db() as db:
        user = accounts.require_user(db, email)
        accounts.reset_password(db, user, password, actor=_actor())
        console.print(f"password reset for {escape(user.email)}", highlight=False)


@app.command()
def disable(email: Annotated[str, typer.Argument(help="Sign-in email")]) -> None:
    """Disable a user: no sign-in, open sessions and API tokens stop working."""
    with _db() as db:
        user = accounts.set_active(db, accounts.require_user(db, email), False, actor=_actor())
        console.print(f"{escape(user.email)} disabled", highlight=False)


@app.command()
def enable(email: Annotated[str, typer.Argument(help="Sign-in email")]) -> None:
    """Enable a disabled user again."""
    with _db() as db:
        user = accounts.set_active(db, accounts.require_user(db, email), True, actor=_actor())
        console.print(f"{escape(user.email)} enabled", highlight=False)


@app.command()
def unlock(email: Annotated[str, typer.Argument(help="Email as typed at sign-in")]) -> None:
    """Lift a sign-in lockout after too many wrong passwords."""
    with _db() as db:
        lifted = accounts.clear_lockout(db, email)
        if lifted:
            accounts.audit(db, _actor(), "user.unlock", f"user:{accounts.normalize_email(email)}")
    console.print("lockout lifted" if lifted else "no lockout for that email", highlight=False)


@app.command(name="create-token")
def create_token(
    email: Annotated[str, typer.Argument(help="Sign-in email of the token's owner")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
) -> None:
    """Create an API token for /api/v1; it is printed once, only to stdout."""
    with _db() as db:
        user = accounts.require_user(db, email)
        _, token = accounts.create_token(db, user, name, actor=_actor())
    err.print(f"API token for {escape(user.email)} (shown once, store it now):", highlight=False)
    # Plain print: no wrapping or markup may alter the token.
    print(token)
