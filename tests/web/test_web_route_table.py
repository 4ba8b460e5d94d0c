"""Default deny: every route in the app refuses anonymous callers, except an explicit list.

The test walks the app's route table, so a route added later is checked without anyone
remembering to add it here; making a route public means adding it to ALLOW_ANONYMOUS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from admin.security.guard import route_policy

ALLOW_ANONYMOUS = {
    ("GET", "/login"),
    ("POST", "/login"),  # still needs the CSRF token of the login page's session
    ("GET", "/healthz"),
    ("POST", "/livekit/webhook"),  # LiveKit signs it; the route checks the signature
}
ALLOW_MOUNTS = {"/static"}


def effective_routes(app: FastAPI) -> Iterator[tuple[Any, str, set[str], Any]]:
    """(route, full path, methods, endpoint) for every route, through included routers."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x nests routers
    except ImportError:  # older FastAPI flattens included routes into app.routes
        for route in app.routes:
            path = getattr(route, "path", "")
            yield (
                route,
                path,
                getattr(route, "methods", None) or set(),
                getattr(route, "endpoint", None),
            )
        return
    for ctx in iter_route_contexts(app.routes):
        yield ctx.original_route, ctx.path or "", ctx.methods or set(), ctx.endpoint


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_refuses_anonymous_access(app: FastAPI) -> None:
    client = TestClient(app)
    checked = 0
    for route, path, methods, _endpoint in effective_routes(app):
        if isinstance(route, Mount):
            assert path in ALLOW_MOUNTS, f"unexpected mount {path}"
            continue
        if isinstance(route, APIWebSocketRoute):
            with pytest.raises(WebSocketDisconnect), client.websocket_connect(_fill(path)):
                pass
            checked += 1
            continue
        assert isinstance(route, APIRoute), (
            f"{route!r} is not a FastAPI route: the sign-in guard would not see it"
        )
        for method in sorted(methods):
            if (method, path) in ALLOW_ANONYMOUS:
                continue
            r = client.request(method, _fill(path), follow_redirects=False)
            where = f"{method} {path}"
            if path.startswith("/api/"):
                assert r.status_code == 401, f"{where} answered {r.status_code} to nobody"
                assert r.headers["content-type"].startswith("application/problem+json"), where
                assert r.json()["status"] == 401
            else:
                assert r.status_code == 303, f"{where} answered {r.status_code} to nobody"
                assert r.headers["location"].startswith("/login?next="), where
            checked += 1
    assert checked >= 8, "the walk found suspiciously few routes"


def test_allow_list_is_exactly_the_routes_marked_public(app: FastAPI) -> None:
    public = {
        (method, path)
        for route, path, methods, endpoint in effective_routes(app)
        if isinstance(route, APIRoute) and route_policy(endpoint).public
        for method in methods
    }
    assert public == ALLOW_ANONYMOUS


def test_only_the_signed_webhook_skips_csrf(app: FastAPI) -> None:
    no_csrf = {
        path
        for route, path, _methods, endpoint in effective_routes(app)
        if isinstance(route, APIRoute) and not route_policy(endpoint).csrf
    }
    assert no_csrf == {"/livekit/webhook"}


def test_api_with_a_wrong_bearer_token_is_401_problem(anon: TestClient) -> None:
    r = anon.get("/api/v1/me", headers={"Authorization": "Bearer cc_not-a-real-token"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "invalid or revoked" in r.json()["detail"]


def test_htmx_request_gets_hx_redirect_to_login(anon: TestClient) -> None:
    r = anon.get("/calls", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 401 and r.headers["hx-redirect"] == "/login?next=/calls"


def test_healthz_is_anonymous(anon: TestClient) -> None:
    assert anon.get("/healthz").json() == {"status": "ok"}
