"""Signed session cookie (itsdangerous), as a pure ASGI middleware.

The session is a small dict (user id, session epoch, CSRF token) signed with SECRET_KEY and
timestamped; a cookie signed with another key, tampered with, or older than the maximum age
is ignored, and the request is anonymous. The cookie is HttpOnly and SameSite=Lax always,
and Secure on https requests (as uvicorn sees them behind a trusted proxy) or when a setting
says so. Pure ASGI rather than BaseHTTPMiddleware so streamed responses (SSE) pass through.
"""

from __future__ import annotations

import json
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "cc_session"
_SALT = "callcenter.session.v1"


class SessionMiddleware:
    """Puts the verified session dict in `scope["session"]` and writes it back when changed."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str,
        max_age_s: int,
        always_secure: bool = False,
        cookie_name: str = COOKIE_NAME,
    ) -> None:
        self.app = app
        self.serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.max_age_s = max_age_s
        self.always_secure = always_secure
        self.cookie_name = cookie_name

    def load(self, raw: str) -> dict[str, Any] | None:
        """The session in a cookie value, or None if it is not ours, altered or expired."""
        try:
            data = self.serializer.loads(raw, max_age=self.max_age_s)
        except BadSignature:  # also SignatureExpired
            return None
        return data if isinstance(data, dict) else None

    def dump(self, session: dict[str, Any]) -> str:
        return self.serializer.dumps(session)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = HTTPConnection(scope).cookies.get(self.cookie_name)
        loaded = self.load(raw) if raw else None
        # A refused cookie is deleted, so the browser stops sending it.
        drop_cookie = raw is not None and loaded is None
        scope["session"] = dict(loaded or {})
        before = json.dumps(loaded or {}, sort_keys=True)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                session = scope["session"]
                changed = json.dumps(session, sort_keys=True) != before
                if changed or drop_cookie:
                    headers = MutableHeaders(scope=message)
                    headers.append("Set-Cookie", self._cookie(scope, session))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, scope: Scope, session: dict[str, Any]) -> str:
        value, max_age = (self.dump(session), self.max_age_s) if session else ("", 0)
        parts = [f"{self.cookie_name}={value}", "Path=/", f"Max-Age={max_age}"]
        parts += ["HttpOnly", "SameSite=Lax"]
        if self.always_secure or scope.get("scheme") in ("https", "wss"):
            parts.append("Secure")
        return "; ".join(parts)
