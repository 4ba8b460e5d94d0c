"""Who may do what: a small permission table checked by plain functions.

Routes and CLI commands ask `can(user, Permission.X)`; the table below is the only place
that says what a role allows.
"""

from __future__ import annotations

from enum import StrEnum

from callcenter.models import User, UserRole


class Permission(StrEnum):
    CONSOLE = "console.use"  # take escalated calls, monitor, coach, hand back
    CALLS_VIEW = "calls.view"  # call list and call pages (redacted transcript)
    DASHBOARDS_VIEW = "dashboards.view"
    TOKENS_OWN = "tokens.own"  # create and revoke one's own API tokens
    FLOWS_VIEW = "flows.view"
    FLOWS_EDIT = "flows.edit"  # drafts, validation, "try it"
    FLOWS_PUBLISH = "flows.publish"  # publish and roll back
    NUMBERS_MANAGE = "numbers.manage"
    USERS_MANAGE = "users.manage"
    TRANSCRIPTS_RAW = "transcripts.raw"  # the unredacted transcript, where it is kept
    AUDIT_VIEW = "audit.view"


ROLE_PERMISSIONS: dict[UserRole, frozenset[Permission]] = {
    UserRole.ADMIN: frozenset(Permission),
    UserRole.SUPERVISOR: frozenset(
        {
            Permission.CONSOLE,
            Permission.CALLS_VIEW,
            Permission.DASHBOARDS_VIEW,
            Permission.TOKENS_OWN,
        }
    ),
}


def permissions_of(user: User | None) -> frozenset[Permission]:
    """Everything `user` may do; nothing for nobody or for a disabled account."""
    if user is None or not user.active:
        return frozenset()
    try:
        return ROLE_PERMISSIONS[UserRole(user.role)]
    except ValueError:  # a role string this version does not know grants nothing
        return frozenset()


def can(user: User | None, permission: Permission | str) -> bool:
    """True if `user` holds `permission`. An unknown permission name is a bug: ValueError."""
    return Permission(permission) in permissions_of(user)
