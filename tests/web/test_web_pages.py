"""Pages: escaped output, security headers, no inline script, problem details for the API."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from admin.templating import TEMPLATES_DIR
from callcenter.accounts import create_user
from tests.web.support import PASSWORD, login

NASTY = '<script>alert("x")</script>'


def test_display_name_with_script_is_shown_escaped(app: FastAPI, engine: Engine) -> None:
    with Session(engine) as db:
        create_user(db, "eve@example.com", PASSWORD, "supervisor", display_name=NASTY)
        db.commit()
    client = TestClient(app)
    assert login(client, "eve@example.com").status_code == 303
    for path in ("/", "/account", "/calls"):
        html = client.get(path).text
        assert NASTY not in html, path
        assert "&lt;script&gt;alert(" in html, path
    # The API returns data, not markup: the JSON carries the text as it is.
    assert client.get("/api/v1/me").json()["display_name"] == NASTY


def test_email_typed_at_login_is_echoed_escaped(anon: TestClient) -> None:
    token = anon.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = anon.post(
        "/login", data={"email": f'"><b>{NASTY}', "password": "x" * 12, "csrf_token": token}
    )
    assert r.status_code == 400
    assert NASTY not in r.text and "&lt;script&gt;" in r.text


def test_security_headers_on_pages_and_api(anon: TestClient, admin_client: TestClient) -> None:
    for r in (anon.get("/login"), admin_client.get("/"), anon.get("/api/v1/me")):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["cache-control"] == "no-store"


def test_templates_have_no_inline_script_or_handlers() -> None:
    for path in Path(TEMPLATES_DIR).glob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{path.name}: inline <script> breaks the CSP"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{path.name}: inline event handler"


def test_static_files_are_served_locally(anon: TestClient) -> None:
    r = anon.get("/static/app.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    html = anon.get("/login").text
    assert "//cdn" not in html and "https://" not in html


def test_api_errors_are_problem_details(admin_client: TestClient) -> None:
    r = admin_client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Not Found"
    token = admin_client.get("/").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = admin_client.post(
        "/api/v1/me/tokens", json={"name": "n" * 500}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == 422 and body["errors"][0]["loc"][-1] == "name"
    r = admin_client.delete("/api/v1/me/tokens/999", headers={"X-CSRF-Token": token})
    assert r.status_code == 404 and "no active API token" in r.json()["detail"]


def test_openapi_is_behind_sign_in(anon: TestClient, admin_client: TestClient) -> None:
    assert anon.get("/openapi.json").status_code == 404
    assert anon.get("/api/v1/openapi.json").status_code == 401
    assert "/api/v1/me" in admin_client.get("/api/v1/openapi.json").json()["paths"]
