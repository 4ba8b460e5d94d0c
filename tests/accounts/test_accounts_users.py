"""Users: creation rules, role changes, resets and disabling, each one audited."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter import accounts
from callcenter.accounts import recent_audit
from tests.accounts.conftest import PASSWORD


def test_create_normalizes_email_and_hashes_password(engine: Engine) -> None:
    with Session(engine) as db:
        user = accounts.create_user(db, "  Ann@Example.COM ", PASSWORD, "Admin", actor="cli:ops")
        db.commit()
        assert user.email == "ann@example.com" and user.role == "admin"
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert accounts.verify_password(user.password_hash, PASSWORD)
        assert accounts.find_user(db, "ANN@example.com") is not None
        [entry] = recent_audit(db, action="user.create")
        assert (entry.actor, entry.target, entry.details) == (
            "cli:ops",
            "user:ann@example.com",
            {"role": "admin"},
        )


@pytest.mark.parametrize(
    ("email", "password", "role", "error", "words"),
    [
        ("a@example.com", "short-pass", "admin", accounts.WeakPassword, "at least 12"),
        ("a@example.com", "aaaaaaaaaaaaaaa", "admin", accounts.WeakPassword, "too simple"),
        ("a@example.com", "a@example.com", "admin", accounts.WeakPassword, "email"),
        ("not-an-email", PASSWORD, "admin", accounts.InvalidEmail, "not an email"),
        ("a@example.com", PASSWORD, "root", accounts.InvalidRole, "admin, supervisor"),
    ],
)
def test_create_refuses_with_a_message_that_says_why(
    engine: Engine, email: str, password: str, role: str, error: type[Exception], words: str
) -> None:
    with Session(engine) as db, pytest.raises(error, match=words):
        accounts.create_user(db, email, password, role)


def test_duplicate_email_is_refused(engine: Engine) -> None:
    with Session(engine) as db:
        accounts.create_user(db, "a@example.com", PASSWORD, "admin")
        with pytest.raises(accounts.UserExists):
            accounts.create_user(db, "A@example.com", PASSWORD, "supervisor")


def test_role_change_reset_and_disable_end_sessions_and_are_audited(engine: Engine) -> None:
    with Session(engine) as db:
        admin = accounts.create_user(db, "boss@example.com", PASSWORD, "admin")
        sup = accounts.create_user(db, "sup@example.com", PASSWORD, "supervisor")
        assert sup.id is not None
        epoch = sup.session_epoch
        assert accounts.user_for_session(db, sup.id, epoch) is sup
        accounts.set_role(db, sup, "admin", actor=admin)
        assert accounts.user_for_session(db, sup.id, epoch) is None
        accounts.reset_password(db, sup, "another long passphrase", actor=admin)
        accounts.set_active(db, sup, False, actor=admin)
        db.commit()
        assert accounts.user_for_session(db, sup.id, sup.session_epoch) is None  # disabled
        actions = [e.action for e in recent_audit(db, actor_id=admin.id)]
        assert actions[:3] == ["user.disable", "user.reset_password", "user.set_role"]
        assert all(e.actor == "boss@example.com" for e in recent_audit(db, actor_id=admin.id))


def test_the_last_active_admin_cannot_be_demoted_or_disabled(engine: Engine) -> None:
    with Session(engine) as db:
        only = accounts.create_user(db, "only@example.com", PASSWORD, "admin")
        with pytest.raises(accounts.LastAdmin, match="only active admin"):
            accounts.set_role(db, only, "supervisor")
        with pytest.raises(accounts.LastAdmin):
            accounts.set_active(db, only, False)
        accounts.create_user(db, "second@example.com", PASSWORD, "admin")
        accounts.set_role(db, only, "supervisor")
        assert only.role == "supervisor"
