"""Numbers: E.164 validation said at the field, conflicts shown before a number moves, audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.accounts import recent_audit
from callcenter.flowstore import FlowStore
from tests.web.support import page_csrf

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    with Session(any_engine) as db:
        store = FlowStore(db, "seed")
        store.publish_text((FLOWS / "customer_support.yaml").read_text())
        store.save_draft((FLOWS / "after_hours.yaml").read_text())
        db.commit()
    return any_engine


def test_map_conflict_move_and_remove_through_the_page(
    admin_client: TestClient, engine: Engine
) -> None:
    token = page_csrf(admin_client, "/numbers")
    form = {"number": "+1 (800) 555-0199", "flow": "customer_support", "label": "US",
            "csrf_token": token}
    r = admin_client.post("/numbers", data=form)
    assert r.status_code == 200 and "Number mapped." in r.text
    assert "<code>+18005550199</code>" in r.text and '<span class="pill pill-live">v1' in r.text
    r = admin_client.post("/numbers", data={**form, "number": "555-0199"})
    assert r.status_code == 422 and 'id="number-error"' in r.text and "E.164" in r.text
    r = admin_client.post("/numbers", data={**form, "flow": "nope"})
    assert r.status_code == 422 and 'id="flow-error"' in r.text
    # Another flow: shown as a conflict, nothing changes until the admin confirms the move.
    r = admin_client.post("/numbers", data={**form, "flow": "after_hours"})
    assert r.status_code == 409 and 'id="number-conflict"' in r.text
    assert "already answers with flow <strong>customer_support</strong>" in r.text
    with Session(engine) as db:
        assert FlowStore(db).list_numbers()[0].flow == "customer_support"
    r = admin_client.post("/numbers", data={**form, "flow": "after_hours", "replace": "true"})
    assert r.status_code == 200 and "nothing published" in r.text
    r = admin_client.post("/numbers/%2B18005550199/delete", data={"csrf_token": token})
    assert r.status_code == 200 and "Number removed." in r.text
    with Session(engine) as db:
        entries = reversed(recent_audit(db, target_prefix="number:"))
        log = [(e.action, e.details.get("flow"), e.actor) for e in entries]
    assert log == [
        ("number.map", "customer_support", "admin@example.com"),
        ("number.map", "after_hours", "admin@example.com"),
        ("number.unmap", "after_hours", "admin@example.com"),
    ]


def test_numbers_api(admin_client: TestClient, supervisor_client: TestClient) -> None:
    h = {"X-CSRF-Token": page_csrf(admin_client, "/")}
    r = admin_client.put("/api/v1/numbers/+18005550199",
                         json={"flow": "customer_support"}, headers=h)
    assert r.status_code == 200 and r.json()["published"] == 1
    r = admin_client.put("/api/v1/numbers/+18005550199", json={"flow": "after_hours"},
                         headers=h)
    assert r.status_code == 409 and r.json()["current_flow"] == "customer_support"
    r = admin_client.put("/api/v1/numbers/12", json={"flow": "after_hours"}, headers=h)
    assert r.status_code == 422 and r.json()["title"] == "Invalid phone number"
    assert [n["number"] for n in admin_client.get("/api/v1/numbers").json()] == ["+18005550199"]
    sh = {"X-CSRF-Token": page_csrf(supervisor_client, "/")}
    assert supervisor_client.get("/api/v1/numbers").status_code == 403
    assert supervisor_client.delete("/api/v1/numbers/+18005550199", headers=sh).status_code == 403
    assert supervisor_client.get("/numbers").status_code == 403
    assert admin_client.delete("/api/v1/numbers/+18005550199", headers=h).status_code == 204
    assert admin_client.delete("/api/v1/numbers/+18005550199", headers=h).status_code == 404
