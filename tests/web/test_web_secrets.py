"""Passwords and API tokens: never stored in clear, never logged; tokens revocable."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from callcenter.accounts import create_user
from tests.web.support import login, page_csrf

SECRET_PASSWORD = "zebra-quartz-lantern-97"


def _all_rows_text(engine: Engine) -> str:
    parts = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            parts += [repr(tuple(row)) for row in conn.execute(sa.select(table))]
    return "\n".join(parts)


def test_passwords_and_tokens_never_stored_or_logged_in_clear(
    any_engine: Engine,
    make_app: Callable[..., FastAPI],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    with Session(any_engine) as db:
        create_user(db, "owner@example.com", SECRET_PASSWORD, "admin")
        db.commit()
    client = TestClient(make_app(any_engine))
    assert login(client, "owner@example.com", SECRET_PASSWORD + "-wrong").status_code == 400
    assert login(client, "owner@example.com", SECRET_PASSWORD).status_code == 303
    csrf = page_csrf(client, "/")
    created = client.post("/api/v1/me/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": csrf})
    token = created.json()["token"]
    assert (
        TestClient(client.app)
        .get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        .status_code
        == 200
    )

    stored = _all_rows_text(any_engine)
    assert SECRET_PASSWORD not in stored and token not in stored
    assert "$argon2id$" in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    out, errs = capfd.readouterr()
    for text in (caplog.text, out, errs):
        assert SECRET_PASSWORD not in text
        assert token not in text
    # Only the list shows tokens after creation, and never the token itself.
    listed = client.get("/api/v1/me/tokens").json()
    assert listed[0]["prefix"] == token[:10] and "token" not in listed[0]


def test_revoked_token_stops_working(any_engine: Engine, make_app: Callable[..., FastAPI]) -> None:
    with Session(any_engine) as db:
        create_user(db, "owner@example.com", SECRET_PASSWORD, "supervisor")
        db.commit()
    app = make_app(any_engine)
    client = TestClient(app)
    login(client, "owner@example.com", SECRET_PASSWORD)
    csrf = page_csrf(client, "/")
    made = client.post("/api/v1/me/tokens", json={"name": "bot"}, headers={"X-CSRF-Token": csrf})
    token, token_id = made.json()["token"], made.json()["id"]
    bot = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert bot.get("/api/v1/me").json()["email"] == "owner@example.com"
    assert client.get("/api/v1/me/tokens").json()[0]["last_used_at"] is not None
    r = client.delete(f"/api/v1/me/tokens/{token_id}", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    r = bot.get("/api/v1/me")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert client.get("/api/v1/me/tokens").json() == []


def test_revoke_from_the_account_page(admin_client: TestClient) -> None:
    csrf = page_csrf(admin_client, "/account")
    page = admin_client.post("/account/tokens", data={"name": "web-made", "csrf_token": csrf})
    assert "shown only this once" in page.text
    token = page.text.split('<code class="secret">')[1].split("<")[0]
    token_id = admin_client.get("/api/v1/me/tokens").json()[0]["id"]
    r = admin_client.post(
        f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "shown only this once" not in admin_client.get("/account").text
    bot = TestClient(admin_client.app, headers={"Authorization": f"Bearer {token}"})
    assert bot.get("/api/v1/me").status_code == 401
