"""Try-it over the API: a draft talked to by text through the one interpreter, per-user
sessions (bounded, expiring, owned), the escalation outcome the admin picks, CSRF, roles."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.accounts import create_user
from callcenter.callsession.effects import IntentService
from callcenter.flowstore import FlowStore
from callcenter.scenarios.files import EXAMPLES
from callcenter.scenarios.tryit import TryItSessions
from tests.web.conftest import seed_users
from tests.web.support import PASSWORD, login, page_csrf

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = (ROOT / "flows" / "customer_support.yaml").read_text()
BASE = "/api/v1/flows/customer_support"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    """SQLite and PostgreSQL: the version talked to is read from the flow store."""
    return any_engine


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(engine: Engine, make_app: Callable[..., FastAPI], tmp_path: Path,
        clock: Clock) -> FastAPI:
    seed_users(engine)
    with Session(engine) as db:
        create_user(db, "other@example.com", PASSWORD, "admin")
        store = FlowStore(db, "seed")
        store.publish_text(SUPPORT)
        # A newer draft with a different greeting: try-it defaults to the newest version.
        store.save_draft(SUPPORT.replace("Thanks for calling {{company}}.",
                                         "Draft greeting from {{company}}."), note="draft")
        db.commit()
    scenarios = tmp_path / "scenarios"
    shutil.copytree(EXAMPLES, scenarios)
    application = make_app(engine, scenarios_dir=str(scenarios))
    application.state.tryit = TryItSessions(intents=IntentService(prefer_minilm=False),
                                            per_user=2, max_sessions=3, idle_s=600,
                                            clock=clock)
    return application


def _headers(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": page_csrf(client, "/")}


def _start(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post(f"{BASE}/try", json=body, headers=_headers(client))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _say(client: TestClient, session: str, text: str) -> dict[str, Any]:
    r = client.post(f"{BASE}/try/{session}/say", json={"text": text}, headers=_headers(client))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_draft_is_talked_to_by_text_through_to_its_outcome(admin_client: TestClient) -> None:
    first = _start(admin_client)
    assert first["version"] == 2  # the draft, not the live v1
    assert any("Draft greeting from Acme Outfitters" in s for s in first["said"]), first
    assert first["node"] == "main_menu" and not first["ended"]
    menu = _say(admin_client, first["session"], "order status")
    assert menu["node"] == "ask_order_number" and menu["slots"]["topic"] == "order"
    assert any(n.startswith("slot_set") and "topic" in n for n in menu["notes"]), menu["notes"]
    found = _say(admin_client, first["session"], "482913#")  # keys, as chat reads them
    assert found["slots"]["order_number"] == "482913"
    # Canned webhook answer from the flow's scenario folder: the order has shipped.
    assert any("shipped" in s.lower() for s in found["said"]), found["said"]
    done = _say(admin_client, first["session"], "no")
    assert done["ended"] and done["outcome"] == "completed"
    assert done["path"][-1] == "goodbye"
    # An ended conversation is gone: the next line says so and how to go on.
    r = admin_client.post(f"{BASE}/try/{first['session']}/say", json={"text": "hello?"},
                          headers=_headers(admin_client))
    assert r.status_code == 404 and "Restart" in r.json()["detail"]


@pytest.mark.parametrize(("escalation", "node", "outcome"), [
    ("connected", "to_human", "escalated"),
    ("unavailable", "goodbye", "completed"),
    ("timeout", "goodbye", "completed"),
])
def test_the_admin_picks_what_an_escalation_does(
    admin_client: TestClient, escalation: str, node: str, outcome: str
) -> None:
    first = _start(admin_client, version=1, escalation=escalation)
    assert first["version"] == 1
    reply = _say(admin_client, first["session"], "0")
    if escalation == "connected":
        assert reply["node"] == node and not reply["ended"]
        assert any("escalation" in n for n in reply["notes"]), reply["notes"]
        reply = _say(admin_client, first["session"], "/quit")
    assert reply["ended"] and reply["outcome"] == outcome, reply
    assert "to_human" in reply["path"]
    if escalation != "connected":  # nobody took it: the flow's apology, then goodbye
        assert reply["path"][-2:] == ["all_busy", "goodbye"], reply["path"]


def test_bad_start_requests_say_what_is_wrong(admin_client: TestClient) -> None:
    h = _headers(admin_client)
    r = admin_client.post(f"{BASE}/try", json={"escalation": "maybe"}, headers=h)
    assert r.status_code == 422 and "connected" in r.text
    r = admin_client.post(f"{BASE}/try", json={"version": 9}, headers=h)
    assert r.status_code == 404 and "version 9" in r.json()["detail"]
    r = admin_client.post("/api/v1/flows/nope/try", json={}, headers=h)
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = admin_client.post(f"{BASE}/try", json={"at": "2026-11-24T15:00:00"}, headers=h)
    assert r.status_code == 422  # a time without a zone is refused, not guessed
    session = _start(admin_client)["session"]
    r = admin_client.post(f"{BASE}/try/{session}/say", json={"text": "x" * 501}, headers=h)
    assert r.status_code == 422


def test_sessions_are_owned_bounded_and_expire(app: FastAPI, admin_client: TestClient,
                                               clock: Clock) -> None:
    other = TestClient(app)
    assert login(other, "other@example.com").status_code == 303
    mine = _start(admin_client)["session"]
    # Another admin cannot see, talk to or end my conversation.
    r = other.post(f"{BASE}/try/{mine}/say", json={"text": "hi"}, headers=_headers(other))
    assert r.status_code == 404
    assert other.delete(f"{BASE}/try/{mine}", headers=_headers(other)).status_code == 404
    # Nor is it reachable under another flow's URL.
    r = admin_client.post(f"/api/v1/flows/other_flow/try/{mine}/say", json={"text": "hi"},
                          headers=_headers(admin_client))
    assert r.status_code == 404
    # Per user: a third tab drops my least recently used conversation.
    second = _start(admin_client)["session"]
    clock.now += 1
    _say(admin_client, mine, "order status")  # mine is now the more recent one
    third = _start(admin_client)["session"]
    assert _say(admin_client, mine, "482913#")["slots"]["order_number"] == "482913"
    r = admin_client.post(f"{BASE}/try/{second}/say", json={"text": "hi"},
                          headers=_headers(admin_client))
    assert r.status_code == 404
    # In all: the registry holds 3; the other admin's second start finds it full.
    _start(other)
    r = other.post(f"{BASE}/try", json={}, headers=_headers(other))
    assert r.status_code == 429 and "limit is 3" in r.json()["detail"]
    # Idle ones expire: ten minutes later there is room again, and mine are gone.
    clock.now += 601
    _start(other)
    r = admin_client.post(f"{BASE}/try/{third}/say", json={"text": "hi"},
                          headers=_headers(admin_client))
    assert r.status_code == 404
    # A conversation idle too long is gone when next spoken to, even with no start between.
    late = _start(admin_client)["session"]
    clock.now += 601
    r = admin_client.post(f"{BASE}/try/{late}/say", json={"text": "hi"},
                          headers=_headers(admin_client))
    assert r.status_code == 404 and "expired" in r.json()["detail"]
    # DELETE ends a conversation.
    session = _start(admin_client)["session"]
    r = admin_client.delete(f"{BASE}/try/{session}", headers=_headers(admin_client))
    assert r.status_code == 204
    assert admin_client.delete(f"{BASE}/try/{session}",
                               headers=_headers(admin_client)).status_code == 404


def test_csrf_and_roles(app: FastAPI, admin_client: TestClient,
                        supervisor_client: TestClient) -> None:
    # Signed in, but without the CSRF header: refused before anything starts.
    r = admin_client.post(f"{BASE}/try", json={})
    assert r.status_code == 403
    assert app.state.tryit.count() == 0
    # Supervisors see the console, calls and dashboards; they do not edit or try flows.
    h = _headers(supervisor_client)
    r = supervisor_client.post(f"{BASE}/try", json={}, headers=h)
    assert r.status_code == 403 and "flows.edit" in r.json()["detail"]
    r = supervisor_client.post(f"{BASE}/versions/1/scenarios/run", headers=h)
    assert r.status_code == 403


def test_stopping_the_app_hangs_up_every_conversation(app: FastAPI) -> None:
    with TestClient(app) as client:  # runs the app's lifespan: startup, then shutdown
        assert login(client, "other@example.com").status_code == 303
        _start(client)
        assert app.state.tryit.count() == 1
    assert app.state.tryit.count() == 0
    assert app.state.tryit._loop is None


def test_without_canned_answers_no_webhook_leaves_the_server(
    admin_client: TestClient, app: FastAPI
) -> None:
    folder = app.state.settings.scenarios_dir / "customer_support"
    (folder / "webhooks.yaml").unlink()
    session = _start(admin_client)["session"]
    _say(admin_client, session, "order status")
    reply = _say(admin_client, session, "482913#")
    # The lookup fails (answered here, 502), so the flow takes its failure route.
    assert "lookup_failed" in reply["path"], reply["path"]
    assert any("no real webhooks" in n or "502" in n for n in reply["notes"]), reply["notes"]
