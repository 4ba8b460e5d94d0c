"""Password hashing (argon2id via argon2-cffi) and the rule a new password must meet."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from callcenter.accounts.errors import WeakPassword

MIN_PASSWORD_LENGTH = 12
# Hashing time grows with input length; a cap keeps one request from costing seconds.
MAX_PASSWORD_LENGTH = 1024



def production_hasher() -> PasswordHasher:
    """The library's defaults: RFC 9106's low-memory profile (argon2id, 64 MiB, t=3)."""
    return PasswordHasher()


_hasher = production_hasher()


def hash_password(password: str) -> str:
    """An argon2id hash string (salt and parameters included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if `password` matches; False for a mismatch or an unreadable hash."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_verify(password: str) -> None:
    """Spend the time of a real check, so an unknown email answers as slowly as a known one."""
    verify_password(_dummy_hash(), password)


def check_password_strength(password: str, *, email: str = "") -> None:
    """Raise WeakPassword with advice when `password` is not acceptable for a new account."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"password too short ({len(password)} characters): use at least "
            f"{MIN_PASSWORD_LENGTH}; a few unrelated words make a strong one"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password too long: at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip() or len(set(password)) < 4:
        raise WeakPassword("password too simple: use a mix of at least 4 different characters")
    if email and password.strip().lower() == email.strip().lower():
        raise WeakPassword("password must not be the email address")
