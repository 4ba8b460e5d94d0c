"""What several `callcenter` commands share: a database session with a clear schema error,
checks of numbers and times given on the command line (one clear line, before any work)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
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


def number_check(
    *, low: float | None = None, high: float | None = None, low_open: bool = False,
    what: str = "",
) -> Callable[[float | None], float | None]:
    """A typer callback refusing inf, nan and values outside [low, high] (or (low, high]).

    click's ranges compare with `<`, which nan always passes, and accept `inf`: an
    interval of inf never fires and nan poisons every later computation, so both are
    refused here, before the command does any work.
    """

    def check(value: float | None) -> float | None:
        if value is None:
            return None
        unit = f" {what}" if what else ""
        if not math.isfinite(value):
            raise typer.BadParameter(f"{value} is not a finite number{unit}")
        if low is not None and (value <= low if low_open else value < low):
            word = "more than" if low_open else "at least"
            raise typer.BadParameter(f"{value:g} is too small: use {word} {low:g}{unit}")
        if high is not None and value > high:
            raise typer.BadParameter(f"{value:g} is too large: use at most {high:g}{unit}")
        return value

    return check


def seconds_check(*, low: float = 0.0, low_open: bool = True,
                  high: float | None = None) -> Callable[[float | None], float | None]:
    """A typer callback for a duration in seconds: finite and above `low`."""
    return number_check(low=low, high=high, low_open=low_open, what="seconds")


def iso_time(text: str | None, option: str) -> dt.datetime | None:
    """`--at 2026-11-24T15:00Z` as an aware datetime (UTC when no zone is given)."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time; use e.g. "
                                 "2026-11-24T15:00Z or 2026-11-24T09:00-05:00",
                                 param_hint=option) from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def check_redis(url: str, setting: str = "REDIS_URL", timeout_s: float = 3.0) -> None:
    """Fail now, in one line, if Redis at `url` does not answer a PING.

    Run once at start-up: a worker or bench that starts against a Redis it cannot reach
    otherwise retries quietly for minutes, or fails half-way with a traceback.
    """
    import redis

    from callcenter.config import SettingsError

    shown = url.split("://", 1)[0] + "://" + url.split("://", 1)[-1].rsplit("@", 1)[-1]
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s,
                                  socket_timeout=timeout_s)
    try:
        client.ping()
    except (redis.exceptions.RedisError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SettingsError(f"{setting}: cannot reach Redis at {shown} ({reason}); start "
                            f"Redis or correct {setting}") from None
    finally:
        client.close()
