"""Users: create, find, list, change role, reset password, disable. Each change is audited.

Functions flush and leave the commit to the caller (`session_scope` or the request).
"""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from callcenter.accounts.audit import Actor, audit
from callcenter.accounts.errors import (
    InvalidEmail,
    InvalidRole,
    LastAdmin,
    UserExists,
    UserNotFound,
)
from callcenter.accounts.passwords import check_password_strength, hash_password
from callcenter.accounts.times import now_utc
from callcenter.models import LoginThrottle, User, UserRole

MAX_EMAIL_LENGTH = 320


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively; stored lower-cased and trimmed."""
    return email.strip().lower()


def _valid_email(email: str) -> str:
    value = normalize_email(email)
    local, at, domain = value.partition("@")
    if not (at and local and domain) or any(c.isspace() for c in value):
        raise InvalidEmail(f"{email!r} is not an email address (expected name@example.com)")
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"email address too long (at most {MAX_EMAIL_LENGTH} characters)")
    return value


def parse_role(role: str) -> UserRole:
    try:
        return UserRole(role.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in UserRole)
        raise InvalidRole(f"unknown role {role!r}: use one of {allowed}") from None


def find_user(db: Session, email: str) -> User | None:
    return db.exec(select(User).where(User.email == normalize_email(email))).first()


def get_user(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def require_user(db: Session, email: str) -> User:
    user = find_user(db, email)
    if user is None:
        raise UserNotFound(f"no user with email {normalize_email(email)!r}")
    return user


def list_users(db: Session) -> list[User]:
    return list(db.exec(select(User).order_by(col(User.email))).all())


def create_user(
    db: Session,
    email: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    actor: Actor = None,
) -> User:
    """A new active user. Refuses weak passwords and duplicate emails."""
    address = _valid_email(email)
    parsed_role = parse_role(role)
    check_password_strength(password, email=address)
    if find_user(db, address) is not None:
        raise UserExists(f"a user with email {address!r} already exists")
    user = User(
        email=address,
        display_name=display_name.strip()[:200],
        role=parsed_role.value,
        password_hash=hash_password(password),
        password_changed_at=now_utc(),
    )
    db.add(user)
    db.flush()
    audit(db, actor, "user.create", f"user:{address}", {"role": parsed_role.value})
    return user


def _active_admins(db: Session) -> int:
    query = (
        select(func.count())
        .select_from(User)
        .where(User.role == UserRole.ADMIN.value, col(User.active).is_(True))
    )
    return int(db.exec(query).one())


def _keep_an_admin(db: Session, user: User) -> None:
    if user.role == UserRole.ADMIN.value and user.active and _active_admins(db) <= 1:
        raise LastAdmin(f"{user.email} is the only active admin; make another user admin first")


def set_role(db: Session, user: User, role: str, *, actor: Actor = None) -> User:
    new_role = parse_role(role)
    old_role = user.role
    if new_role.value == old_role:
        return user
    if new_role != UserRole.ADMIN:
        _keep_an_admin(db, user)
    user.role = new_role.value
    # Open sessions carry what the person could do; make them sign in again.
    user.session_epoch += 1
    db.add(user)
    details = {"from": old_role, "to": new_role.value}
    audit(db, actor, "user.set_role", f"user:{user.email}", details)
    return user


def reset_password(db: Session, user: User, password: str, *, actor: Actor = None) -> User:
    check_password_strength(password, email=user.email)
    user.password_hash = hash_password(password)
    user.password_changed_at = now_utc()
    user.session_epoch += 1  # every open session of this user ends
    db.add(user)
    # A reset by an admin is the way out of a lockout.
    throttle = db.get(LoginThrottle, f"user:{user.email}")
    if throttle is not None:
        db.delete(throttle)
    audit(db, actor, "user.reset_password", f"user:{user.email}")
    return user


def set_active(db: Session, user: User, active: bool, *, actor: Actor = None) -> User:
    if user.active == active:
        return user
    if not active:
        _keep_an_admin(db, user)
        user.session_epoch += 1
    user.active = active
    db.add(user)
    audit(db, actor, "user.enable" if active else "user.disable", f"user:{user.email}")
    return user


def user_for_session(db: Session, user_id: int, epoch: int) -> User | None:
    """The user a session cookie names, if still active and signed in after the last reset."""
    user = db.get(User, user_id)
    if user is None or not user.active or user.session_epoch != epoch:
        return None
    return user
