"""The flow page's diagram: every node and route of the version, and the traffic of stored
calls on them for the chosen period (server-rendered SVG; the browser test looks at it)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.bench.admin_seed import SeedResult, seed_calls
from callcenter.flow.validate import load_flow
from callcenter.flowstore import FlowStore
from callcenter.models import Call
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.web.conftest import ADMIN
from tests.web.support import PASSWORD

FLOW = "customer_support"


@pytest.fixture
def calls(engine: Engine) -> SeedResult:
    # Six days, so the default period (7 days) holds every call and "24 hours" only some.
    return seed_calls(engine, 400, days=6, seed=11)


def _recount(engine: Engine, version_id: int, since: datetime) -> tuple[Counter[str],
                                                                        Counter[tuple[str, str]]]:
    nodes: Counter[str] = Counter()
    edges: Counter[tuple[str, str]] = Counter()
    with Session(engine) as db:
        for c in db.exec(select(Call).where(Call.flow_version_id == version_id)).all():
            started = c.started_at.replace(tzinfo=UTC) if c.started_at.tzinfo is None \
                else c.started_at
            if started >= since:
                nodes.update(set(c.metrics["path"]))
                edges.update(pairwise(c.metrics["path"]))
    return nodes, edges


def _shown(html: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    nodes = {m[0]: int(m[1]) for m in re.findall(r'data-node="([^"]+)" data-calls="(\d+)"', html)}
    edges = {(m[0], m[1]): int(m[2]) for m in re.findall(
        r'data-source="([^"]+)" data-target="([^"]+)" data-calls="(\d+)"', html)}
    return nodes, edges


def test_diagram_draws_every_node_with_the_traffic_of_the_live_version(
        admin_client: TestClient, engine: Engine, calls: SeedResult) -> None:
    with Session(engine) as db:
        live = FlowStore(db).published_version(FLOW)
        assert live is not None and live.id is not None
        flow = load_flow(live.yaml_text)
    r = admin_client.get(f"/flows/{FLOW}")
    assert r.status_code == 200
    nodes, edges = _shown(r.text)
    assert set(nodes) == set(flow.nodes)
    want_nodes, want_edges = _recount(engine, live.id, datetime.now(UTC) - timedelta(days=7))
    assert sum(want_nodes.values()) > 100
    assert {n: c for n, c in nodes.items() if c} == dict(want_nodes)
    assert {e: c for e, c in edges.items() if c} == dict(want_edges)
    # Every route the flow names is drawn, used or not.
    assert ("greet", "main_menu") in edges and ("main_menu", "ask_order_number") in edges
    calls_shown = int(re.search(r'id="traffic-calls">([\d,]+)<', r.text)[1].replace(",", ""))
    assert calls_shown == want_nodes[flow.start]

    # A shorter period shows fewer calls, counted the same way.
    day = admin_client.get(f"/flows/{FLOW}?period=1d")
    nodes_day, _ = _shown(day.text)
    want_day, _ = _recount(engine, live.id, datetime.now(UTC) - timedelta(days=1))
    assert {n: c for n, c in nodes_day.items() if c} == dict(want_day)
    assert nodes_day[flow.start] < nodes[flow.start]
    # An unknown period falls back to the default instead of failing.
    assert _shown(admin_client.get(f"/flows/{FLOW}?period=forever").text)[0] == nodes


def test_a_draft_shows_its_own_shape_with_the_live_versions_traffic(
        admin_client: TestClient, engine: Engine, calls: SeedResult) -> None:
    with Session(engine) as db:
        store = FlowStore(db, "test")
        live = store.published_version(FLOW)
        assert live is not None
        # A new step between the greeting and the menu.
        text = live.yaml_text.replace("    next: main_menu\n", "    next: extra_hello\n", 1) + (
            "\n  extra_hello:\n    type: say\n    text: Hello again.\n    next: main_menu\n")
        draft = store.save_draft(text, note="an extra node").version
        db.commit()
    r = admin_client.get(f"/flows/{FLOW}?v={draft}")
    nodes, edges = _shown(r.text)
    assert nodes["extra_hello"] == 0 and ("greet", "extra_hello") in edges
    assert ("greet", "main_menu") in edges  # drawn dashed: calls took it, the draft does not
    assert nodes["greet"] > 0  # traffic of the live version on the nodes it shares
    assert "this draft has had no calls" in r.text


def test_a_flow_never_published_has_a_diagram_and_no_traffic(admin_client: TestClient,
                                                             engine: Engine) -> None:
    with Session(engine) as db:
        FlowStore(db, "test").save_draft(
            "name: fresh\nstart: hi\nnodes:\n  hi:\n    type: hangup\n    say: Hi.\n")
        db.commit()
    r = admin_client.get("/flows/fresh")
    assert r.status_code == 200
    assert 'data-node="hi" data-calls="0"' in r.text
    assert "Not published yet" in r.text


sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def base_url(app: FastAPI, calls: SeedResult) -> Iterator[str]:
    with live_server(app) as url:
        yield url


@pytest.mark.slow
def test_diagram_in_chromium_shows_node_traffic(base_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000}, base_url=base_url)
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto("/login")
        tab.fill("input[name=email]", ADMIN)
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button[type=submit]")
        tab.goto(f"/flows/{FLOW}")
        svg = tab.locator("svg.diagram")
        svg.wait_for()
        main_menu = tab.locator('g.node[data-node="main_menu"]')
        assert main_menu.is_visible()
        calls_text = main_menu.locator("text.node-calls").text_content() or ""
        assert re.match(r"[\d,]+ calls", calls_text), calls_text
        box = main_menu.bounding_box()
        assert box is not None and box["width"] > 100  # laid out, not collapsed
        tab.locator("#flow-diagram").screenshot(path="/tmp/admin-diagram.png")
        tab.select_option("#traffic-period select", "1d")
        tab.click("#traffic-period button")
        tab.wait_for_url(re.compile(r"period=1d"))
        assert "last 24 hours" in (tab.locator("#traffic-caption").text_content() or "")
        tab.locator("#flow-diagram").screenshot(path="/tmp/admin-diagram-1d.png")
        browser.close()
        assert errors == [], f"browser console errors (CSP?): {errors}"
    assert Path("/tmp/admin-diagram.png").stat().st_size > 10_000


def test_a_draft_with_problems_marks_them_on_the_diagrams_nodes(admin_client: TestClient,
                                                                engine: Engine) -> None:
    from tests.web.support import page_csrf

    support = (Path(__file__).resolve().parents[2] / "flows" / f"{FLOW}.yaml").read_text()
    with Session(engine) as db:
        FlowStore(db, "seed").publish_text(support)
        db.commit()
    token = page_csrf(admin_client, f"/flows/{FLOW}")
    broken = support.replace("next: main_menu", "next: main_menuu", 1)
    r = admin_client.post(f"/flows/{FLOW}/drafts", data={"text": broken, "csrf_token": token})
    assert r.status_code == 422
    marked = re.findall(r'class="node heat-\d node-problem[^"]*" data-node="([^"]+)"', r.text)
    assert marked == ["greet"]  # the node whose `next` names no node
    assert "problem: " in r.text and "main_menuu" in r.text
