"""Roles: supervisors reach the console and calls, not admin-only pages or APIs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import ADMIN, SUPERVISOR


def test_supervisor_is_refused_admin_only_page_and_api(supervisor_client: TestClient) -> None:
    r = supervisor_client.get("/flows")
    assert r.status_code == 403
    assert "does not allow flows.view" in r.text
    r = supervisor_client.get("/api/v1/users")
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Forbidden"


def test_admin_reaches_admin_only_page_and_api(admin_client: TestClient) -> None:
    assert admin_client.get("/flows").status_code == 200
    r = admin_client.get("/api/v1/users")
    assert r.status_code == 200
    assert {u["email"] for u in r.json()} == {ADMIN, SUPERVISOR}


def test_supervisor_reaches_console_and_calls(supervisor_client: TestClient) -> None:
    assert supervisor_client.get("/console").status_code == 200
    assert supervisor_client.get("/calls").status_code == 200


def test_home_links_only_what_the_role_may_open(
    admin_client: TestClient, supervisor_client: TestClient
) -> None:
    admin_home = admin_client.get("/").text
    assert 'href="/flows"' in admin_home and 'href="/console"' in admin_home
    sup_home = supervisor_client.get("/").text
    assert 'href="/flows"' not in sup_home
    assert 'href="/console"' in sup_home and 'href="/calls"' in sup_home
    assert "Sam Supervisor" in sup_home and SUPERVISOR in sup_home


def test_me_lists_the_role_permissions(supervisor_client: TestClient) -> None:
    me = supervisor_client.get("/api/v1/me").json()
    assert me["role"] == "supervisor"
    assert "console.use" in me["permissions"]
    assert "flows.publish" not in me["permissions"] and "users.manage" not in me["permissions"]
