"""Flows in the admin: validation at the line, drafts, publish, diff, roll back, audit, roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.accounts import recent_audit
from callcenter.flowstore import FlowStore
from tests.web.support import page_csrf

SUPPORT = (Path(__file__).resolve().parents[2] / "flows" / "customer_support.yaml").read_text()
NASTY = '<script>alert("x")</script>'


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    """Every test here on SQLite and PostgreSQL: publishing relies on a partial unique index."""
    return any_engine


def _csrf(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": page_csrf(client, "/")}


def test_validate_api_locates_every_problem_with_a_hint(admin_client: TestClient) -> None:
    broken = SUPPORT.replace("next: main_menu", "next: main_menuu", 1)
    r = admin_client.post("/api/v1/flows/validate", json={"text": broken},
                          headers=_csrf(admin_client))
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False and body["name"] is None
    (problem,) = [p for p in body["problems"] if "main_menuu" in p["message"]]
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "main_menuu" in text)
    assert problem["line"] == line and problem["column"] > 1
    assert problem["node"] == "greet" and "main_menu" in (problem["hint"] or "")
    ok = admin_client.post("/api/v1/flows/validate", json={"text": SUPPORT},
                           headers=_csrf(admin_client)).json()
    assert ok == {"ok": True, "name": "customer_support", "problems": []}


def test_draft_publish_diff_rollback_through_the_pages(
    admin_client: TestClient, engine: Engine
) -> None:
    token = page_csrf(admin_client, "/flows/new")
    r = admin_client.post("/flows", data={"text": SUPPORT, "note": "first", "csrf_token": token},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/flows/customer_support?v=1")
    r = admin_client.post("/flows/customer_support/versions/1/publish",
                          data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    # An invalid draft is not saved; the page shows the problem at its line with the hint.
    broken = SUPPORT.replace("next: main_menu", "next: main_menuu", 1)
    r = admin_client.post("/flows/customer_support/drafts",
                          data={"text": broken, "csrf_token": token})
    assert r.status_code == 422
    assert 'data-line="' in r.text and "main_menuu" in r.text and 'class="hint"' in r.text
    edited = SUPPORT.replace("Acme Outfitters", "Acme Boots")
    r = admin_client.post("/flows/customer_support/drafts",
                          data={"text": edited, "note": "rename", "csrf_token": token})
    assert r.status_code == 200 and "Draft saved." in r.text and "v2" in r.text
    diff = admin_client.get("/flows/customer_support/diff").text
    assert 'class="diff-remove"> company: Acme Outfitters' in diff.replace("-  ", " ")
    assert "Acme Boots" in diff and "v1 → v2" in diff
    admin_client.post("/flows/customer_support/versions/2/publish", data={"csrf_token": token})
    page = admin_client.get("/flows").text
    assert '<span class="pill pill-live">v2</span>' in page
    r = admin_client.post("/flows/customer_support/versions/1/rollback",
                          data={"csrf_token": token})
    assert r.status_code == 200 and "Rolled back" in r.text
    with Session(engine) as db:
        live = FlowStore(db).published_version("customer_support")
        assert live is not None and live.version == 1
        entries = reversed(recent_audit(db, target_prefix="flow:"))
        actions = [(e.action, e.target, e.actor) for e in entries]
    assert actions == [
        ("flow.draft", "flow:customer_support v1", "admin@example.com"),
        ("flow.publish", "flow:customer_support v1", "admin@example.com"),
        ("flow.draft", "flow:customer_support v2", "admin@example.com"),
        ("flow.publish", "flow:customer_support v2", "admin@example.com"),
        ("flow.rollback", "flow:customer_support v1", "admin@example.com"),
    ]


def test_api_drafts_publish_rollback_and_errors(admin_client: TestClient) -> None:
    h = _csrf(admin_client)
    r = admin_client.post("/api/v1/flows/drafts", json={"text": SUPPORT}, headers=h)
    assert r.status_code == 201 and r.json()["version"] == 1 and r.json()["status"] == "draft"
    assert r.json()["author"] == "admin@example.com"
    bad = admin_client.post("/api/v1/flows/customer_support/drafts",
                            json={"text": SUPPORT.replace("start: greet", "start: gret")},
                            headers=h)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["problems"][0]["hint"]
    other = admin_client.post("/api/v1/flows/other/drafts", json={"text": SUPPORT}, headers=h)
    assert other.status_code == 409 and "customer_support" in other.json()["detail"]
    admin_client.post("/api/v1/flows/customer_support/drafts",
                      json={"text": SUPPORT.replace("Acme", "Acne"), "note": "n"}, headers=h)
    assert admin_client.post("/api/v1/flows/customer_support/versions/2/publish",
                             headers=h).json()["status"] == "published"
    early = admin_client.post("/api/v1/flows/customer_support/versions/3/rollback", headers=h)
    assert early.status_code == 404 or early.status_code == 409
    assert admin_client.post("/api/v1/flows/customer_support/versions/1/rollback",
                             headers=h).json()["version"] == 1
    detail = admin_client.get("/api/v1/flows/customer_support").json()
    assert detail["published"] == 1
    assert [v["status"] for v in detail["versions"]] == ["published", "archived"]
    diff = admin_client.get("/api/v1/flows/customer_support/diff?a=1&b=2").json()
    assert {"kind": "add", "text": "  company: Acne Outfitters"} in diff["lines"]
    assert admin_client.get("/api/v1/flows/nope").status_code == 404
    listing = admin_client.get("/api/v1/flows").json()
    assert listing[0]["name"] == "customer_support" and listing[0]["published"] == 1


def test_supervisor_cannot_publish_or_roll_back(
    admin_client: TestClient, supervisor_client: TestClient
) -> None:
    h = _csrf(admin_client)
    admin_client.post("/api/v1/flows/drafts", json={"text": SUPPORT}, headers=h)
    sh = _csrf(supervisor_client)
    for path in ("/api/v1/flows/customer_support/versions/1/publish",
                 "/api/v1/flows/customer_support/versions/1/rollback"):
        r = supervisor_client.post(path, headers=sh)
        assert r.status_code == 403 and "flows.publish" in r.json()["detail"]
    token = page_csrf(supervisor_client, "/")
    r = supervisor_client.post("/flows/customer_support/versions/1/publish",
                               data={"csrf_token": token})
    assert r.status_code == 403
    assert supervisor_client.get("/flows/customer_support").status_code == 403
    assert admin_client.get("/api/v1/flows/customer_support").json()["published"] is None


def test_flow_text_with_script_is_escaped_everywhere(admin_client: TestClient) -> None:
    nasty = SUPPORT.replace(
        "description: Order status, billing help and escalation to the support team.",
        f"description: '{NASTY}'").replace("Acme Outfitters", NASTY.replace('"', "'"))
    h = _csrf(admin_client)
    assert admin_client.post("/api/v1/flows/drafts", json={"text": nasty},
                             headers=h).status_code == 201
    admin_client.post("/api/v1/flows/customer_support/versions/1/publish", headers=h)
    admin_client.post("/api/v1/flows/customer_support/drafts",
                      json={"text": nasty + "\n# <script>x()</script>\n"}, headers=h)
    for path in ("/flows", "/flows/customer_support", "/flows/customer_support?v=1",
                 "/flows/customer_support/diff"):
        html = admin_client.get(path).text
        assert "<script>alert" not in html and "<script>x()" not in html, path
        assert "&lt;script&gt;" in html, path
