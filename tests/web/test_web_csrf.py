"""CSRF: every state-changing request made with the session cookie needs the session's token."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.models import ApiToken
from tests.web.conftest import ADMIN
from tests.web.support import PASSWORD, login, page_csrf

EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


def _tokens(engine: Engine) -> list[ApiToken]:
    with Session(engine) as db:
        return list(db.exec(select(ApiToken)).all())


def test_cross_site_form_post_without_token_is_refused(
    admin_client: TestClient, engine: Engine
) -> None:
    r = admin_client.post("/account/tokens", data={"name": "forged"}, headers=EVIL)
    assert r.status_code == 403
    assert "CSRF" in r.text or "cross-site" in r.text
    # Without the browser's Sec-Fetch-Site hint it is the missing token that refuses it.
    r = admin_client.post("/account/tokens", data={"name": "forged"})
    assert r.status_code == 403 and "CSRF token" in r.text
    assert _tokens(engine) == []


def test_form_post_with_the_token_is_accepted(admin_client: TestClient, engine: Engine) -> None:
    token = page_csrf(admin_client, "/account")
    r = admin_client.post("/account/tokens", data={"name": "deploy", "csrf_token": token})
    assert r.status_code == 201
    assert [t.name for t in _tokens(engine)] == ["deploy"]


def test_cross_site_post_is_refused_even_with_a_leaked_token(admin_client: TestClient) -> None:
    token = page_csrf(admin_client, "/account")
    r = admin_client.post("/account/tokens", data={"name": "x", "csrf_token": token}, headers=EVIL)
    assert r.status_code == 403


def test_another_sessions_token_is_refused(app: FastAPI, admin_client: TestClient) -> None:
    attacker = TestClient(app)
    their_token = page_csrf(attacker, "/login")
    r = admin_client.post("/account/tokens", data={"name": "x", "csrf_token": their_token})
    assert r.status_code == 403


def test_api_with_session_needs_the_header(admin_client: TestClient) -> None:
    r = admin_client.post("/api/v1/me/tokens", json={"name": "x"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    token = page_csrf(admin_client, "/")
    r = admin_client.post("/api/v1/me/tokens", json={"name": "x"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 201


def test_api_with_bearer_token_needs_no_csrf(admin_client: TestClient, app: FastAPI) -> None:
    token = page_csrf(admin_client, "/")
    plain = admin_client.post(
        "/api/v1/me/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": token}
    ).json()["token"]
    bot = TestClient(app)
    r = bot.post(
        "/api/v1/me/tokens", json={"name": "ci2"}, headers={"Authorization": f"Bearer {plain}"}
    )
    assert r.status_code == 201


def test_login_form_needs_the_token(anon: TestClient) -> None:
    r = anon.post("/login", data={"email": ADMIN, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403


def test_logout_needs_the_token_and_ends_the_session(admin_client: TestClient) -> None:
    assert admin_client.post("/logout", follow_redirects=False).status_code == 403
    assert admin_client.get("/", follow_redirects=False).status_code == 200
    token = page_csrf(admin_client, "/")
    r = admin_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert admin_client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_replaces_the_anonymous_csrf_token(anon: TestClient) -> None:
    before = page_csrf(anon, "/login")
    assert login(anon, ADMIN).status_code == 303
    assert page_csrf(anon, "/") != before
