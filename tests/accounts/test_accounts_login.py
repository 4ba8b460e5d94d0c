"""Sign-in lockout: counted in the database, per email and per address, race-free."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter import accounts
from callcenter.accounts import login as login_module
from callcenter.accounts.times import now_utc
from callcenter.models import LoginThrottle
from tests.accounts.conftest import PASSWORD

POLICY = accounts.LoginPolicy(max_failures=3, ip_max_failures=50, lockout=timedelta(minutes=15))


def _user(engine: Engine) -> None:
    with Session(engine) as db:
        accounts.create_user(db, "ann@example.com", PASSWORD, "admin")
        db.commit()


def _try(engine: Engine, password: str, email: str = "ann@example.com") -> str:
    with Session(engine) as db:
        try:
            accounts.authenticate(db, email, password, client_addr="10.0.0.1", policy=POLICY)
        except accounts.LoginLocked:
            return "locked"
        except accounts.LoginFailed:
            return "wrong"
        return "ok"


def test_lock_after_max_failures_then_right_password_refused_until_it_ends(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user(engine)
    assert [_try(engine, "nope nope nope") for _ in range(4)] == [
        "wrong",
        "wrong",
        "locked",
        "locked",
    ]
    assert _try(engine, PASSWORD) == "locked"
    later = now_utc() + timedelta(minutes=15, seconds=5)
    monkeypatch.setattr(login_module, "now_utc", lambda: later)
    assert _try(engine, PASSWORD) == "ok"
    with Session(engine) as db:
        assert db.get(LoginThrottle, "user:ann@example.com") is None  # success clears it
        user = accounts.require_user(db, "ann@example.com")
        assert user.last_login_at is not None


def test_old_failures_stop_counting(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _user(engine)
    assert _try(engine, "nope nope nope") == "wrong"
    assert _try(engine, "nope nope nope") == "wrong"
    later = now_utc() + timedelta(minutes=20)
    monkeypatch.setattr(login_module, "now_utc", lambda: later)
    assert _try(engine, "nope nope nope") == "wrong"  # a fresh window: 1 failure, not 3


def test_unknown_email_locks_like_a_real_one(engine: Engine) -> None:
    _user(engine)
    real = [_try(engine, "nope nope nope") for _ in range(4)]
    ghost = [_try(engine, "nope nope nope", "ghost@example.com") for _ in range(4)]
    assert real == ghost


def test_disabled_user_gets_the_same_answer_as_a_wrong_password(engine: Engine) -> None:
    _user(engine)
    with Session(engine) as db:
        accounts.create_user(db, "other@example.com", PASSWORD, "admin")
        accounts.set_active(db, accounts.require_user(db, "ann@example.com"), False)
        db.commit()
    assert _try(engine, PASSWORD) == "wrong"


def test_reset_password_and_unlock_lift_a_lock(engine: Engine) -> None:
    _user(engine)
    for _ in range(3):
        _try(engine, "nope nope nope")
    assert _try(engine, PASSWORD) == "locked"
    with Session(engine) as db:
        assert accounts.clear_lockout(db, "ANN@example.com")
        db.commit()
    assert _try(engine, PASSWORD) == "ok"
    for _ in range(3):
        _try(engine, "nope nope nope")
    with Session(engine) as db:
        accounts.reset_password(db, accounts.require_user(db, "ann@example.com"), PASSWORD + "!")
        db.commit()
    assert _try(engine, PASSWORD + "!") == "ok"


def test_concurrent_failures_are_all_counted(engine: Engine) -> None:
    """Eight threads at once (as several processes would be): no lost update."""
    policy = accounts.LoginPolicy(max_failures=1000, ip_max_failures=1000)
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(5):
            with Session(engine) as db, pytest.raises(accounts.LoginFailed):
                accounts.authenticate(db, "x@example.com", "wrong password", policy=policy)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with Session(engine) as db:
        row = db.get(LoginThrottle, "user:x@example.com")
        assert row is not None and row.failures == 40
