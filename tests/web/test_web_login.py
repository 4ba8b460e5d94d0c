"""Sign-in through the real form: lockout, session cookie signing and flags, safe redirects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from admin.security.session import COOKIE_NAME
from callcenter.accounts import login as login_module
from callcenter.accounts import require_user, reset_password, set_active
from callcenter.accounts.times import now_utc
from tests.web.conftest import ADMIN, SUPERVISOR, seed_users
from tests.web.support import PASSWORD, login

LOCKED = "Too many failed sign-ins for this email address"


def test_ten_wrong_passwords_lock_the_account_for_a_while(
    any_engine: Engine, make_app: Callable[..., FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_users(any_engine)
    client = TestClient(make_app(any_engine))
    for attempt in range(9):
        r = login(client, ADMIN, f"wrong password number {attempt}")
        assert r.status_code == 400 and "Wrong email or password." in r.text
    r = login(client, ADMIN, "the tenth wrong one")
    assert r.status_code == 429 and LOCKED in r.text and "15 minutes" in r.text
    # Now even the right password is refused, with the same words.
    r = login(client, ADMIN)
    assert r.status_code == 429 and LOCKED in r.text
    assert int(r.headers["retry-after"]) > 800
    # Another process (a second app on the same database) sees the same lock.
    other = TestClient(make_app(any_engine))
    assert login(other, ADMIN).status_code == 429
    # The other account is not affected.
    assert login(other, SUPERVISOR).status_code == 303
    # When the lock has run out the right password works again.
    later = now_utc() + timedelta(minutes=16)
    monkeypatch.setattr(login_module, "now_utc", lambda: later)
    assert login(client, ADMIN).status_code == 303


def test_lockout_reveals_nothing_about_which_accounts_exist(
    any_engine: Engine, make_app: Callable[..., FastAPI]
) -> None:
    seed_users(any_engine)
    client = TestClient(make_app(any_engine))
    pages = {}
    for email in (ADMIN, "nobody@example.com"):
        for _ in range(10):
            last = login(client, email, "not the password at all")
        pages[email] = (last.status_code, last.text.replace(email, "EMAIL"))
    assert pages[ADMIN][0] == pages["nobody@example.com"][0] == 429
    message = lambda html: html.split('role="alert">')[1].split("<")[0]  # noqa: E731
    assert message(pages[ADMIN][1]) == message(pages["nobody@example.com"][1])


def test_many_failures_from_one_address_lock_that_address(
    engine: Engine, make_app: Callable[..., FastAPI]
) -> None:
    seed_users(engine)
    client = TestClient(make_app(engine, login_ip_max_failures=3))
    for n in range(3):
        last = login(client, f"guess{n}@example.com", "not the password at all")
    assert last.status_code == 429 and "from your network address" in last.text
    assert login(client, ADMIN).status_code == 429


def test_session_cookie_signed_with_another_key_is_refused(
    engine: Engine, make_app: Callable[..., FastAPI]
) -> None:
    seed_users(engine)
    other_key_app = make_app(engine, secret_key="another-secret-key-with-enough-length-0123")
    forger = TestClient(other_key_app)
    assert login(forger, ADMIN).status_code == 303
    cookie = forger.cookies[COOKIE_NAME]
    victim_app = TestClient(make_app(engine))
    victim_app.cookies.set(COOKIE_NAME, cookie)
    r = victim_app.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # The refused cookie is deleted.
    assert f"{COOKIE_NAME}=;" in r.headers["set-cookie"]
    assert victim_app.get("/api/v1/me").status_code == 401


def test_tampered_session_cookie_is_refused(admin_client: TestClient) -> None:
    value = admin_client.cookies[COOKIE_NAME]
    payload, rest = value.split(".", 1)
    forged = payload[:-2] + ("xx" if not payload.endswith("xx") else "yy")
    admin_client.cookies.clear()
    admin_client.cookies.set(COOKIE_NAME, forged + "." + rest)
    assert admin_client.get("/", follow_redirects=False).status_code == 303


def test_password_reset_and_disable_end_open_sessions(
    admin_client: TestClient, supervisor_client: TestClient, engine: Engine
) -> None:
    with Session(engine) as db:
        reset_password(db, require_user(db, ADMIN), "a brand new long passphrase")
        set_active(db, require_user(db, SUPERVISOR), False)
        db.commit()
    assert admin_client.get("/", follow_redirects=False).status_code == 303
    assert supervisor_client.get("/", follow_redirects=False).status_code == 303
    assert login(TestClient(admin_client.app), SUPERVISOR).status_code == 400


def test_session_cookie_flags(
    app: FastAPI, make_app: Callable[..., FastAPI], engine: Engine
) -> None:
    r = login(TestClient(app), ADMIN)
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    r = login(TestClient(app, base_url="https://admin.example"), ADMIN)
    assert "Secure" in r.headers["set-cookie"]
    assert r.headers["strict-transport-security"].startswith("max-age=")
    r = login(TestClient(make_app(engine, session_cookie_secure=True)), ADMIN)
    assert "Secure" in r.headers["set-cookie"]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil"])
def test_login_never_redirects_off_site(anon: TestClient, target: str) -> None:
    token = anon.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = anon.post(
        "/login",
        data={"email": ADMIN, "password": PASSWORD, "next": target, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_login_returns_to_the_page_asked_for(anon: TestClient) -> None:
    r = anon.get("/calls", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/calls"
    page = anon.get(r.headers["location"]).text
    assert 'name="next" value="/calls"' in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = anon.post(
        "/login",
        data={"email": ADMIN, "password": PASSWORD, "next": "/calls", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/calls"


def test_signed_in_user_visiting_login_goes_home(admin_client: TestClient) -> None:
    r = admin_client.get("/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
