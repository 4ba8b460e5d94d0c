"""CSRF: a per-session random token, sent back in a hidden form field or the X-CSRF-Token header.

The token lives inside the signed, HttpOnly session cookie, so another site can neither read
nor forge it; a cross-site form post arrives without it and is refused. Browsers that send
`Sec-Fetch-Site: cross-site` are refused before the token is even looked at.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfFailed(Exception):
    """A state-changing request without a valid CSRF token (403)."""


def csrf_token(session: dict[str, Any]) -> str:
    """The session's token, created on first use (a fresh session gets a fresh token)."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


async def verify_csrf(request: Request) -> None:
    """Raise CsrfFailed unless the request carries this session's token."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        raise CsrfFailed("cross-site request refused")
    expected = request.session.get(SESSION_KEY)
    if not isinstance(expected, str) or not expected:
        raise CsrfFailed("no session: reload the page and submit the form again")
    presented = request.headers.get(CSRF_HEADER, "")
    content_type = request.headers.get("content-type", "")
    if not presented and content_type.startswith(_FORM_TYPES):
        # FastAPI has usually parsed the form already; Starlette caches it on the request.
        value = (await request.form()).get(CSRF_FIELD)
        presented = value if isinstance(value, str) else ""
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CsrfFailed("missing or wrong CSRF token: reload the page and try again")
