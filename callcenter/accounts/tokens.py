"""Per-user API tokens for `/api/v1`: random, shown once, stored as SHA-256, revocable.

A token has 256 bits of randomness, so a fast hash is enough (no salt or slow hash needed:
nothing to brute-force), and lookup is one indexed equality on the digest.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, col, select

from callcenter.accounts.audit import Actor, audit
from callcenter.accounts.errors import TokenNotFound
from callcenter.accounts.times import as_utc, now_utc
from callcenter.models import ApiToken, User

TOKEN_PREFIX = "cc_"
# Updating last_used_at on every request would turn each API read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    db: Session, user: User, name: str = "", *, actor: Actor = None
) -> tuple[ApiToken, str]:
    """A new token for `user`: the stored row and the plain token (return it once, never log)."""
    assert user.id is not None
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name.strip()[:100],
        token_hash=token_digest(plain),
        prefix=plain[:10],
    )
    db.add(row)
    db.flush()
    audit(
        db,
        actor if actor is not None else user,
        "token.create",
        f"user:{user.email}",
        {"token_id": row.id, "name": row.name},
    )
    return row, plain


def list_tokens(db: Session, user: User, *, include_revoked: bool = False) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id)
    if not include_revoked:
        query = query.where(col(ApiToken.revoked_at).is_(None))
    return list(db.exec(query.order_by(col(ApiToken.created_at).desc())).all())


def revoke_token(db: Session, user: User, token_id: int, *, actor: Actor = None) -> ApiToken:
    """Revoke one of `user`'s tokens; TokenNotFound if it is not theirs or already revoked."""
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise TokenNotFound(f"no active API token {token_id} for {user.email}")
    row.revoked_at = now_utc()
    db.add(row)
    audit(
        db,
        actor if actor is not None else user,
        "token.revoke",
        f"user:{user.email}",
        {"token_id": token_id, "name": row.name},
    )
    return row


def user_for_token(db: Session, token: str) -> User | None:
    """The active user a presented token belongs to, or None (unknown, revoked, disabled)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.exec(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.active:
        return None
    now = now_utc()
    if row.last_used_at is None or now - as_utc(row.last_used_at) > _LAST_USED_RESOLUTION:
        row.last_used_at = now
        db.add(row)
        db.commit()
    return user
