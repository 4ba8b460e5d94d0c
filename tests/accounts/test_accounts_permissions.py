"""The permission table: admins everything; supervisors console, calls, dashboards."""

from __future__ import annotations

import pytest

from callcenter.accounts import Permission, can, permissions_of
from callcenter.models import User


def _user(role: str, active: bool = True) -> User:
    return User(email=f"{role}@example.com", role=role, password_hash="x", active=active)


def test_admin_may_do_everything() -> None:
    assert permissions_of(_user("admin")) == frozenset(Permission)


def test_supervisor_gets_console_calls_dashboards_only() -> None:
    sup = _user("supervisor")
    for allowed in ("console.use", "calls.view", "dashboards.view", "tokens.own"):
        assert can(sup, allowed)
    for refused in ("flows.publish", "flows.edit", "users.manage", "transcripts.raw"):
        assert not can(sup, refused)


def test_nobody_disabled_or_unknown_role_may_do_nothing() -> None:
    assert permissions_of(None) == frozenset()
    assert not can(_user("admin", active=False), Permission.CALLS_VIEW)
    assert not can(_user("janitor"), Permission.CALLS_VIEW)


def test_a_misspelt_permission_is_a_bug_not_a_no() -> None:
    with pytest.raises(ValueError):
        can(_user("admin"), "flows.pubish")
