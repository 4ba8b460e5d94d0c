"""Accounts: users and roles, password hashing, sign-in lockout, API tokens, the audit log.

No web framework in here: the admin app and the CLI both call these functions.
"""

from callcenter.accounts.audit import Actor, actor_label, audit, recent_audit
from callcenter.accounts.errors import (
    AccountError,
    InvalidEmail,
    InvalidRole,
    LastAdmin,
    LoginFailed,
    LoginLocked,
    TokenNotFound,
    UserExists,
    UserNotFound,
    WeakPassword,
)
from callcenter.accounts.login import LoginPolicy, authenticate, clear_lockout
from callcenter.accounts.passwords import (
    MIN_PASSWORD_LENGTH,
    check_password_strength,
    hash_password,
    verify_password,
)
from callcenter.accounts.permissions import ROLE_PERMISSIONS, Permission, can, permissions_of
from callcenter.accounts.tokens import create_token, list_tokens, revoke_token, user_for_token
from callcenter.accounts.users import (
    create_user,
    find_user,
    get_user,
    list_users,
    normalize_email,
    parse_role,
    require_user,
    reset_password,
    set_active,
    set_role,
    user_for_session,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLE_PERMISSIONS",
    "AccountError",
    "Actor",
    "InvalidEmail",
    "InvalidRole",
    "LastAdmin",
    "LoginFailed",
    "LoginLocked",
    "LoginPolicy",
    "Permission",
    "TokenNotFound",
    "UserExists",
    "UserNotFound",
    "WeakPassword",
    "actor_label",
    "audit",
    "authenticate",
    "can",
    "check_password_strength",
    "clear_lockout",
    "create_token",
    "create_user",
    "find_user",
    "get_user",
    "hash_password",
    "list_tokens",
    "list_users",
    "normalize_email",
    "parse_role",
    "permissions_of",
    "recent_audit",
    "require_user",
    "reset_password",
    "revoke_token",
    "set_active",
    "set_role",
    "user_for_session",
    "user_for_token",
    "verify_password",
]
