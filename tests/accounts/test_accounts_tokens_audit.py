"""API tokens (hashed, revocable, last used) and the audit log."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter import accounts
from callcenter.models import ApiToken
from tests.accounts.conftest import PASSWORD


def test_token_is_stored_as_sha256_and_resolves_to_its_user(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as db:
        user = accounts.create_user(db, "bot@example.com", PASSWORD, "supervisor")
        row, plain = accounts.create_token(db, user, "ci")
        db.commit()
        assert plain.startswith("cc_") and len(plain) > 40
        stored = db.get(ApiToken, row.id)
        assert (
            stored is not None and stored.token_hash == hashlib.sha256(plain.encode()).hexdigest()
        )
        assert plain not in repr(stored.model_dump()).replace(stored.prefix, "")
        found = accounts.user_for_token(db, plain)
        assert found is not None and found.email == "bot@example.com"
        assert accounts.user_for_token(db, plain + "x") is None
        assert accounts.user_for_token(db, "") is None
        db.refresh(stored)
        assert stored.last_used_at is not None


def test_revoked_or_disabled_owner_tokens_are_refused(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as db:
        admin = accounts.create_user(db, "root@example.com", PASSWORD, "admin")
        user = accounts.create_user(db, "bot@example.com", PASSWORD, "supervisor")
        row, plain = accounts.create_token(db, user, "ci")
        _, other = accounts.create_token(db, user, "cron")
        assert row.id is not None
        with pytest.raises(accounts.TokenNotFound):
            accounts.revoke_token(db, admin, row.id)  # not admin's token
        accounts.revoke_token(db, user, row.id)
        db.commit()
        assert accounts.user_for_token(db, plain) is None
        assert [t.name for t in accounts.list_tokens(db, user)] == ["cron"]
        accounts.set_active(db, user, False, actor=admin)
        db.commit()
        assert accounts.user_for_token(db, other) is None
        actions = {e.action for e in accounts.recent_audit(db)}
        assert {"token.create", "token.revoke", "user.disable"} <= actions


def test_audit_records_actor_action_target_details_newest_first(engine: Engine) -> None:
    with Session(engine) as db:
        admin = accounts.create_user(db, "root@example.com", PASSWORD, "admin")
        accounts.audit(db, admin, "flow.publish", "flow:billing v3", {"version": 3})
        accounts.audit(db, "cli:ops", "number.map", "number:+18005550100", {"flow": "billing"})
        accounts.audit(db, None, "flow.rollback", "flow:billing v2")
        db.commit()
        newest = accounts.recent_audit(db, limit=3)
        assert [e.action for e in newest] == ["flow.rollback", "number.map", "flow.publish"]
        assert [e.actor for e in newest] == ["system", "cli:ops", "root@example.com"]
        assert newest[2].actor_id == admin.id and newest[2].details == {"version": 3}
        assert [e.target for e in accounts.recent_audit(db, target_prefix="number:")] == [
            "number:+18005550100"
        ]
