"""Sign-in: password check with per-email and per-address lockout, shared through the DB.

Failures are counted per key in `login_throttle`: `user:<email as typed>` and `ip:<client>`.
Counting the email typed, not the user row, makes an unknown email lock exactly like a real
one, so neither the messages nor the lockout tell an anonymous caller which accounts exist.
The counter is bumped with one atomic upsert, so concurrent processes count every failure.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from callcenter.accounts.errors import LoginFailed, LoginLocked
from callcenter.accounts.passwords import (
    burn_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from callcenter.accounts.times import as_utc, now_utc
from callcenter.accounts.users import find_user, normalize_email
from callcenter.config import Settings
from callcenter.models import LoginThrottle, User

log = logging.getLogger(__name__)

WRONG_CREDENTIALS = "Wrong email or password."
_KEY_LENGTH = 400


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures lock what, and for how long."""

    max_failures: int = 10
    ip_max_failures: int = 100
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            max_failures=settings.login_max_failures,
            ip_max_failures=settings.login_ip_max_failures,
            lockout=timedelta(seconds=settings.login_lockout_s),
        )


def _keys(email: str, client_addr: str | None) -> list[tuple[str, str]]:
    keys = [("user", f"user:{normalize_email(email)}"[:_KEY_LENGTH])]
    if client_addr:
        keys.append(("ip", f"ip:{client_addr}"[:_KEY_LENGTH]))
    return keys


def _locked_message(kind: str, seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    who = "for this email address" if kind == "user" else "from your network address"
    return f"Too many failed sign-ins {who}. Sign-in is locked; try again in {when}."


def _check_locks(db: Session, keys: list[tuple[str, str]], now: datetime) -> None:
    for kind, key in keys:
        row = db.get(LoginThrottle, key)
        if row is not None and row.locked_until is not None:
            left = (as_utc(row.locked_until) - now).total_seconds()
            if left > 0:
                raise LoginLocked(_locked_message(kind, int(left)), math.ceil(left))


def _upsert(db: Session) -> Any:
    name = db.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"login throttle: unsupported database {name!r}")


def _record_failure(
    db: Session, key: str, limit: int, lockout: timedelta, now: datetime
) -> datetime | None:
    """Count one failure for `key`; returns when the lock ends if this failure locked it."""
    table: sa.Table = LoginThrottle.__table__  # type: ignore[attr-defined]
    at = sa.literal(now, sa.DateTime(timezone=True))
    # Failures older than one lockout period no longer count.
    stale = table.c.window_start < now - lockout
    stmt = (
        _upsert(db)(table)
        .values(key=key, failures=1, window_start=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": sa.case((stale, 1), else_=table.c.failures + 1),
                "window_start": sa.case((stale, at), else_=table.c.window_start),
            },
        )
    )
    db.execute(stmt)
    until = now + lockout
    locked = db.execute(
        sa.update(table)
        .where(table.c.key == key, table.c.failures >= limit)
        .values(locked_until=until, failures=0, window_start=now)
    )
    return until if locked.rowcount else None  # type: ignore[attr-defined]


def authenticate(
    db: Session,
    email: str,
    password: str,
    *,
    client_addr: str | None = None,
    policy: LoginPolicy | None = None,
) -> User:
    """The user whose email and password these are, or LoginFailed / LoginLocked.

    Commits its own bookkeeping (failure counts, last sign-in) so that a caller that rolls
    back on the exception does not also roll back the failure it was told about.
    """
    policy = policy or LoginPolicy()
    now = now_utc()
    keys = _keys(email, client_addr)
    _check_locks(db, keys, now)  # while locked even the right password is refused

    user = find_user(db, email)
    if user is None:
        burn_verify(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.active
    if ok and user is not None:
        db.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == keys[0][1]))  # type: ignore[arg-type]
        user.last_login_at = now
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        db.add(user)
        db.commit()
        log.info("sign-in: %s", user.email)
        return user

    locked: tuple[str, datetime] | None = None
    for kind, key in keys:
        limit = policy.max_failures if kind == "user" else policy.ip_max_failures
        until = _record_failure(db, key, limit, policy.lockout, now)
        if until is not None and locked is None:
            locked = (kind, until)
    db.commit()
    if locked is not None:
        kind, until = locked
        log.warning("sign-in locked (%s) after repeated failures: %s", kind, keys[0][1])
        seconds = int((until - now).total_seconds())
        raise LoginLocked(_locked_message(kind, seconds), seconds)
    log.info("sign-in refused for %s", normalize_email(email)[:_KEY_LENGTH])
    raise LoginFailed(WRONG_CREDENTIALS)


def clear_lockout(db: Session, email: str) -> bool:
    """Lift a lock on an email (an admin's way out besides a password reset)."""
    row = db.get(LoginThrottle, f"user:{normalize_email(email)}"[:_KEY_LENGTH])
    if row is None:
        return False
    db.delete(row)
    return True
