"""Scenario runs over the API and the page: each scenario passes or fails with expected vs
actual, a broken file is shown with its line, and the flow is the stored version asked for
(SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.callsession.effects import IntentService
from callcenter.flowstore import FlowStore
from callcenter.scenarios.files import EXAMPLES
from callcenter.scenarios.tryit import TryItSessions
from tests.web.conftest import seed_users
from tests.web.support import page_csrf

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = (ROOT / "flows" / "customer_support.yaml").read_text()
WRONG_SLOT = """description: Expects the wrong order number, to show a failure.
turns:
  - say: order status
  - press: "482913#"
  - say: no thanks
expect:
  outcome: completed
  slots: {order_number: "111111"}
"""
BROKEN = """description: Written with voice-caller words.
turns:
  - say: order status
  - dtmf: "482913#"
expect:
  outcome: finished
"""


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    return any_engine


@pytest.fixture
def app(engine: Engine, make_app: Callable[..., FastAPI], tmp_path: Path) -> FastAPI:
    seed_users(engine)
    with Session(engine) as db:
        FlowStore(db, "seed").publish_text(SUPPORT)
        FlowStore(db, "seed").save_draft(SUPPORT.replace("say: Of course.", "say: Right away."))
        db.commit()
    scenarios = tmp_path / "scenarios"
    shutil.copytree(EXAMPLES, scenarios)
    (scenarios / "customer_support" / "wrong_order.yaml").write_text(WRONG_SLOT)
    (scenarios / "customer_support" / "voice_words.yaml").write_text(BROKEN)
    application = make_app(engine, scenarios_dir=str(scenarios))
    application.state.tryit = TryItSessions(intents=IntentService(prefer_minilm=False))
    return application


def test_the_api_runs_every_scenario_against_the_version(admin_client: TestClient) -> None:
    h = {"X-CSRF-Token": page_csrf(admin_client, "/")}
    r = admin_client.post("/api/v1/flows/customer_support/versions/2/scenarios/run", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2 and body["passed"] is False
    by_name = {s["name"]: s for s in body["scenarios"]}
    assert body["counts"] == {"passed": 3, "failed": 1, "error": 0, "invalid": 1}
    assert {n for n, s in by_name.items() if s["status"] == "passed"} == {
        "order_status", "asks_for_a_person", "nobody_free"}
    wrong = by_name["wrong_order"]
    assert wrong["status"] == "failed" and wrong["outcome"] == "completed"
    (failed,) = [c for c in wrong["checks"] if not c["ok"]]
    assert failed == {"what": "slot order_number", "expected": "111111", "actual": "482913",
                      "ok": False}
    assert ("caller", "[keys 482913#]") in [tuple(t) for t in wrong["transcript"]]
    broken = by_name["voice_words"]
    assert broken["status"] == "invalid" and broken["checks"] == []
    lines = {(p["line"], p["message"].split(" ")[0]) for p in broken["problems"]}
    assert (4, "unknown") in lines and (6, "outcome") in lines
    dtmf = next(p for p in broken["problems"] if p["line"] == 4)
    assert dtmf["hint"] == "in a scenario this is 'press'" and dtmf["column"] == 5
    # The listing shows the same problems without playing anything.
    files = admin_client.get("/api/v1/flows/customer_support/scenarios").json()
    assert [f["name"] for f in files] == ["asks_for_a_person", "nobody_free", "order_status",
                                          "voice_words", "wrong_order"]
    assert next(f for f in files if f["name"] == "voice_words")["problems"]
    r = admin_client.post("/api/v1/flows/customer_support/versions/7/scenarios/run", headers=h)
    assert r.status_code == 404


def test_the_page_button_shows_results_escaped(admin_client: TestClient,
                                               tmp_path: Path) -> None:
    page = admin_client.get("/flows/customer_support?v=2").text
    assert 'id="run-scenarios"' in page and "5 scenario" in page
    nasty = tmp_path / "scenarios" / "customer_support" / "nasty.yaml"
    nasty.write_text(WRONG_SLOT.replace("Expects the wrong", "<script>alert(1)</script>"))
    token = page_csrf(admin_client, "/")
    r = admin_client.post("/flows/customer_support/versions/2/scenarios",
                          data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert 'data-status="failed"' in r.text and 'data-status="passed"' in r.text
    assert "111111" in r.text and "482913" in r.text
    # Without htmx the form post renders the whole editor with the results on it.
    r = admin_client.post("/flows/customer_support/versions/2/scenarios",
                          data={"csrf_token": token})
    assert r.status_code == 200 and 'id="flow-text"' in r.text and "scenario-results" in r.text


def test_runs_are_bounded_and_a_busy_server_says_so(admin_client: TestClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from admin import tryit

    monkeypatch.setattr(tryit, "_runs", threading.BoundedSemaphore(1))
    assert tryit._runs.acquire(blocking=False)  # another run is going
    token = page_csrf(admin_client, "/")
    r = admin_client.post("/api/v1/flows/customer_support/versions/1/scenarios/run",
                          headers={"X-CSRF-Token": token})
    assert r.status_code == 429 and "try again" in r.json()["detail"]
    r = admin_client.post("/flows/customer_support/versions/1/scenarios",
                          data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "try again" in r.text
    tryit._runs.release()
    r = admin_client.post("/api/v1/flows/customer_support/versions/1/scenarios/run",
                          headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["counts"]["passed"] == 3
