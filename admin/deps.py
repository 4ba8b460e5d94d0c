"""FastAPI dependencies routes declare: the DB session, the signed-in user, role checks."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends
from sqlmodel import Session
from starlette.requests import HTTPConnection, Request

from admin.security.guard import Forbidden, NotAuthenticated, current_user_of
from callcenter.accounts import Permission, can
from callcenter.models import User, UserRole


def get_db(request: Request) -> Iterator[Session]:
    """One DB session per request; routes commit what they change."""
    with Session(request.app.state.engine, expire_on_commit=False) as db:
        yield db


async def optional_user(conn: HTTPConnection) -> User | None:
    return await current_user_of(conn)


async def current_user(conn: HTTPConnection) -> User:
    user = await current_user_of(conn)
    if user is None:
        raise NotAuthenticated()
    return user


DbSession = Annotated[Session, Depends(get_db)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]

UserCheck = Callable[[HTTPConnection], Coroutine[Any, Any, User]]


def require_role(*roles: UserRole | str) -> UserCheck:
    """A dependency that returns the user if their role is one of `roles`, else 403."""
    allowed = {UserRole(r).value for r in roles}

    async def check(conn: HTTPConnection) -> User:
        user = await current_user(conn)
        if user.role not in allowed:
            raise Forbidden(f"this needs the {' or '.join(sorted(allowed))} role")
        return user

    return check


def require_permission(permission: Permission) -> UserCheck:
    """A dependency that returns the user if the permission table allows `permission`."""

    async def check(conn: HTTPConnection) -> User:
        user = await current_user(conn)
        if not can(user, permission):
            raise Forbidden(f"your role ({user.role}) does not allow {permission.value}")
        return user

    return check
