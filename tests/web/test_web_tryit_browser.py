"""Try-it and scenarios in real headless Chromium: an admin opens a draft, talks to it by
text through to its outcome (the node marked on the diagram, slots filled), then runs the
flow's scenarios: the good ones pass, a deliberately wrong one shows as failing with its
expected and actual values. A draft with `<script>` in its words shows them as text.
Screenshots go to /tmp/shots/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.flowstore import FlowStore
from callcenter.scenarios.files import EXAMPLES
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.web.conftest import ADMIN, seed_users
from tests.web.support import PASSWORD
from tests.web.test_web_scenarios import WRONG_SLOT

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SUPPORT = (ROOT / "flows" / "customer_support.yaml").read_text()
NASTY = "<script>alert(1)</script>"
SHOTS = Path("/tmp/shots")

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def base_url(engine: Engine, make_app: Any, tmp_path: Path) -> Iterator[str]:
    seed_users(engine)
    with Session(engine) as db:
        FlowStore(db, "seed").publish_text(SUPPORT)
        draft = SUPPORT.replace("Thanks for calling {{company}}.",
                                f"Thanks for calling {{{{company}}}} {NASTY}.")
        FlowStore(db, "seed").save_draft(draft, note="new greeting")
        db.commit()
    scenarios = tmp_path / "scenarios"
    shutil.copytree(EXAMPLES, scenarios)
    (scenarios / "customer_support" / "wrong_order.yaml").write_text(WRONG_SLOT)
    app: FastAPI = make_app(engine, scenarios_dir=str(scenarios))
    with live_server(app) as url:
        yield url


@pytest.fixture
def tab(base_url: str) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, base_url=base_url)
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        yield page
        browser.close()
        assert errors == [], f"browser console errors (CSP?): {errors}"
        assert dialogs == [], f"a script from the flow ran: {dialogs}"


def _say(tab: Any, text: str, expect: str) -> None:
    tab.fill("#try-text", text)
    tab.press("#try-text", "Enter")
    tab.wait_for_selector(f"#try-transcript .msg-agent:has-text('{expect}')", timeout=30_000)
    tab.wait_for_selector("#try-send:not([disabled]), #try-text[disabled]", timeout=30_000)


def test_admin_tries_a_draft_and_runs_its_scenarios(tab: Any) -> None:
    tab.goto("/login")
    tab.fill("input[name=email]", ADMIN)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.goto("/flows/customer_support")
    tab.wait_for_selector("#try-it")
    assert "v2 · draft" in tab.inner_text("#try-it h2")

    tab.click("#try-start")
    tab.wait_for_selector("#try-transcript .msg-agent", timeout=30_000)
    greeting = tab.inner_text("#try-transcript .msg-agent >> nth=0")
    assert NASTY in greeting  # shown as the text it is, not run
    assert tab.inner_text("#try-node") == "main_menu"

    _say(tab, "I want to check my order status", "order number")
    assert tab.inner_text("#try-node") == "ask_order_number"
    assert tab.get_attribute("#flow-diagram g.node-current", "data-node") == "ask_order_number"
    assert "order" in tab.inner_text("#try-slots tr[data-slot=topic]")
    # The sticky top bar would cover the top of element shots.
    tab.evaluate("document.querySelector('.topbar').style.position = 'static'")
    tab.locator("#try-it").screenshot(path=str(SHOTS / "tryit-mid-conversation.png"))
    tab.locator("#flow-diagram").screenshot(path=str(SHOTS / "tryit-diagram-node.png"))

    _say(tab, "482913#", "shipped")
    assert "482913" in tab.inner_text("#try-slots tr[data-slot=order_number]")
    tab.fill("#try-text", "no, that's all")
    tab.press("#try-text", "Enter")
    tab.wait_for_selector("#try-transcript .msg-end", timeout=30_000)
    assert tab.inner_text("#try-outcome").startswith("completed")
    assert tab.is_disabled("#try-text")
    assert tab.locator("#flow-diagram g.node-current").count() == 0
    tab.locator("#try-it").screenshot(path=str(SHOTS / "tryit-ended.png"))

    # Restart: a new call on the same version.
    tab.click("#try-restart")
    tab.wait_for_selector("#try-transcript .msg-agent", timeout=30_000)
    assert tab.inner_text("#try-outcome") == "–" and not tab.is_disabled("#try-text")

    tab.click("#run-scenarios")
    tab.wait_for_selector("#scenario-summary", timeout=120_000)
    summary = tab.inner_text("#scenario-summary")
    assert "3 of 4 passed" in summary and "1 failed" in summary, summary
    assert tab.get_attribute("li[data-scenario=order_status]", "data-status") == "passed"
    assert tab.get_attribute("li[data-scenario=wrong_order]", "data-status") == "failed"
    bad = tab.inner_text("li[data-scenario=wrong_order] tr.check-bad")
    assert "slot order_number" in bad and "111111" in bad and "482913" in bad
    tab.locator("#scenarios").screenshot(path=str(SHOTS / "scenario-results.png"))
    tab.screenshot(path=str(SHOTS / "flow-page-tryit.png"), full_page=True)
