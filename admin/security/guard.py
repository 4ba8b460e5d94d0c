"""Default deny: one app-wide dependency that every route passes through.

Every route needs a signed-in user (session cookie, or a Bearer API token under /api/)
unless its endpoint is marked `@public`; every state-changing request made with the session
needs the CSRF token unless the route is marked `csrf=False` (only the LiveKit webhook,
which LiveKit signs). A new route is protected without anyone remembering to protect it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection, Request

from admin.security.csrf import SAFE_METHODS, verify_csrf
from callcenter.accounts import user_for_session, user_for_token
from callcenter.models import User

F = TypeVar("F", bound=Callable[..., Any])
_POLICY_ATTR = "__callcenter_route_policy__"
API_PREFIX = "/api/"


@dataclass(frozen=True)
class RoutePolicy:
    public: bool = False
    csrf: bool = True


class NotAuthenticated(Exception):
    """No valid session or token: pages redirect to /login, the API answers 401."""

    def __init__(self, detail: str = "sign in first") -> None:
        super().__init__(detail)
        self.detail = detail


class Forbidden(Exception):
    """Signed in, but the role does not allow this (403)."""

    def __init__(self, detail: str = "your role does not allow this") -> None:
        super().__init__(detail)
        self.detail = detail


def public(fn: F | None = None, *, csrf: bool = True) -> Any:
    """Mark an endpoint as reachable without signing in (CSRF still checked unless csrf=False)."""

    def mark(f: F) -> F:
        setattr(f, _POLICY_ATTR, RoutePolicy(public=True, csrf=csrf))
        return f

    return mark(fn) if fn is not None else mark


def mark_public(router: APIRouter, *, csrf: bool) -> None:
    """Mark every route of a router we do not own (e.g. the signed LiveKit webhook)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            public(route.endpoint, csrf=csrf)


def route_policy(endpoint: Any) -> RoutePolicy:
    policy = getattr(endpoint, _POLICY_ATTR, None)
    return policy if isinstance(policy, RoutePolicy) else RoutePolicy()


def _resolve_user(engine: Engine, session: dict[str, Any], bearer: str | None) -> User | None:
    with Session(engine, expire_on_commit=False) as db:
        if bearer is not None:
            return user_for_token(db, bearer)
        uid, epoch = session.get("uid"), session.get("ep")
        if isinstance(uid, int) and isinstance(epoch, int):
            return user_for_session(db, uid, epoch)
        return None


def _bearer(conn: HTTPConnection) -> str | None:
    """The API token presented, '' for a malformed header, None for no header (or not API)."""
    header = conn.headers.get("authorization")
    if header is None or not conn.url.path.startswith(API_PREFIX):
        return None
    scheme, _, credential = header.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


async def current_user_of(conn: HTTPConnection) -> User | None:
    """The signed-in user of this request (resolved once, then cached on the request)."""
    if hasattr(conn.state, "user"):
        user: User | None = conn.state.user
        return user
    bearer = _bearer(conn)
    user = await run_in_threadpool(_resolve_user, conn.app.state.engine, conn.session, bearer)
    if bearer is None and user is None and conn.session.get("uid") is not None:
        # Disabled, password reset or role changed since sign-in: this session is over.
        conn.session.clear()
    conn.state.user = user
    conn.state.auth = None if user is None else ("token" if bearer is not None else "session")
    return user


async def guard(conn: HTTPConnection) -> None:
    """The app-wide dependency: authentication, then CSRF for state-changing requests."""
    policy = route_policy(getattr(conn.scope.get("route"), "endpoint", None))
    if conn.scope["type"] == "websocket":
        # Browsers do not apply CORS to websockets: refuse other sites' pages by Origin.
        origin = conn.headers.get("origin", "")
        if origin and origin.split("://", 1)[-1] != conn.headers.get("host", ""):
            raise WebSocketException(code=1008, reason="cross-site websocket refused")
        if not policy.public and await current_user_of(conn) is None:
            raise WebSocketException(code=1008, reason="sign in first")
        return
    assert isinstance(conn, Request)
    if not policy.public and await current_user_of(conn) is None:
        if _bearer(conn) is not None:
            raise NotAuthenticated(
                "invalid or revoked API token (send Authorization: Bearer <token>)"
            )
        raise NotAuthenticated()
    if conn.method in SAFE_METHODS or not policy.csrf:
        return
    if getattr(conn.state, "auth", None) == "token":
        return  # a Bearer token is not sent by browsers on their own: nothing to forge
    await verify_csrf(conn)
