"""The dashboard: calls, containment, outcomes, handle time and queue figures for a period,
recounted from the stored rows; an alert for a caller waiting too long; supervisors see it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.bench.admin_seed import SeedResult, seed_calls
from callcenter.models import Call, Escalation
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.web.conftest import SUPERVISOR
from tests.web.support import PASSWORD


@pytest.fixture
def calls(engine: Engine) -> SeedResult:
    return seed_calls(engine, 300, days=2, seed=5)


def _recount(engine: Engine, since: datetime) -> tuple[int, Counter[str], float]:
    with Session(engine) as db:
        rows = [c for c in db.exec(select(Call)).all()
                if c.started_at.replace(tzinfo=UTC) >= since]
    outcomes = Counter(c.disposition for c in rows if c.disposition)
    contained = (outcomes["resolved"] + outcomes["callback"]) / sum(outcomes.values())
    return len(rows), outcomes, contained


def test_dashboard_figures_match_the_stored_calls(supervisor_client: TestClient,
                                                  engine: Engine, calls: SeedResult) -> None:
    r = supervisor_client.get("/dashboard")
    assert r.status_code == 200
    n, outcomes, contained = _recount(engine, datetime.now(UTC) - timedelta(hours=24))
    assert 0 < n < 300
    shown = int(re.search(r'id="stat-calls">([\d,]+)<', r.text)[1].replace(",", ""))
    assert shown == n
    assert f'id="stat-containment">{contained * 100:.0f}%<' in r.text
    for name, count in outcomes.items():
        assert f'data-outcome="{name}">{count:,}<' in r.text
    assert 'data-queue="support"' in r.text
    week = supervisor_client.get("/dashboard?period=7d").text
    assert re.search(r'id="stat-calls">300<', week)
    assert "Waiting for a person now" in r.text and 'id="stat-waiting">0<' in r.text
    assert 'role="alert"' not in r.text


def test_a_caller_waiting_too_long_raises_an_alert(supervisor_client: TestClient,
                                                   engine: Engine, calls: SeedResult) -> None:
    with Session(engine) as db:
        call_id = db.exec(select(Call.id)).first()
        db.add(Escalation(call_id=call_id, queue="support", status="waiting",
                          requested_at=datetime.now(UTC) - timedelta(minutes=6)))
        db.commit()
    r = supervisor_client.get("/dashboard")
    assert 'id="stat-waiting">1<' in r.text
    assert re.search(r'role="alert">A caller has waited 6 min for a person', r.text)


@pytest.fixture
def base_url(app: FastAPI, calls: SeedResult) -> Iterator[str]:
    with live_server(app) as url:
        yield url


@pytest.mark.slow
def test_dashboard_in_chromium(base_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 900}, base_url=base_url)
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.goto("/login")
        tab.fill("input[name=email]", SUPERVISOR)
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button[type=submit]")
        tab.click("nav >> text=Dashboard")
        tab.wait_for_selector("#stat-calls")
        assert tab.locator("svg.chart rect.bar").count() >= 24
        tab.screenshot(path="/tmp/admin-dashboard.png", full_page=True)
        browser.close()
        assert errors == []
    assert Path("/tmp/admin-dashboard.png").stat().st_size > 10_000
