"""Typed account errors. Each message is safe to show the person who caused it."""

from __future__ import annotations


class AccountError(Exception):
    """Base class: something about a user, a password, a token or a sign-in was refused."""


class InvalidEmail(AccountError):
    """The email address is not one we can store or sign in with."""


class InvalidRole(AccountError):
    """The role is not admin or supervisor."""


class WeakPassword(AccountError):
    """The password is too short (or otherwise refused); the message says how to pick one."""


class UserExists(AccountError):
    """Another user already has this email address."""


class UserNotFound(AccountError):
    """No user with this email or id."""


class LastAdmin(AccountError):
    """The change would leave no active admin, so nobody could manage users any more."""


class TokenNotFound(AccountError):
    """No such API token for this user (or it belongs to someone else)."""


class LoginFailed(AccountError):
    """Wrong email or password; deliberately says nothing about which one."""


class LoginLocked(AccountError):
    """Too many failed sign-ins; refused until `retry_after_s` seconds have passed."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
