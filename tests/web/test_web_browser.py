"""The admin in real headless Chromium: edit a flow with errors at their line, publish, diff,
roll back, map a number, read a stored call. Screenshots go to /tmp/admin-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.flowstore import FlowStore
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.web.calls_data import HEARD, PLANNED, rich_call
from tests.web.conftest import ADMIN
from tests.web.support import PASSWORD

pytestmark = pytest.mark.slow
SUPPORT = (Path(__file__).resolve().parents[2] / "flows" / "customer_support.yaml").read_text()
TYPO_LINE = next(i for i, t in enumerate(SUPPORT.splitlines(), 1) if "next: main_menu" in t)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def base_url(app: FastAPI, engine: Engine) -> Iterator[str]:
    with Session(engine) as db:
        version = FlowStore(db, "seed").publish_text(SUPPORT)
        db.commit()
        version_id = version.id
    rich_call(engine, flow_version_id=version_id, processed=True)
    with live_server(app) as url:
        yield url


@pytest.fixture
def page(base_url: str) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 900}, base_url=base_url)
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("dialog", lambda d: d.accept())  # the data-confirm questions
        yield tab
        browser.close()
        assert errors == [], f"browser console errors (CSP?): {errors}"


def _diagnostic_lines(tab: object) -> list[tuple[int, str]]:
    """(line, message) of every lint diagnostic the editor holds."""
    return tab.evaluate(  # type: ignore[attr-defined, no-any-return]
        """() => { const v = window.callcenter.flowEditor, out = [];
        window.CodeMirror.forEachDiagnostic(v.state, (d, from) =>
          out.push([v.state.doc.lineAt(from).number, d.message]));
        return out; }""")


def test_admin_edits_publishes_rolls_back_maps_and_reads_a_call(page: object) -> None:
    tab = page
    tab.goto("/login")  # type: ignore[attr-defined]
    tab.fill("input[name=email]", ADMIN)  # type: ignore[attr-defined]
    tab.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    tab.click("button[type=submit]")  # type: ignore[attr-defined]
    tab.click("nav >> text=Flows")  # type: ignore[attr-defined]
    tab.wait_for_selector("text=customer_support")  # type: ignore[attr-defined]
    tab.screenshot(path="/tmp/admin-flows.png")  # type: ignore[attr-defined]

    tab.click("a.strong >> text=customer_support")  # type: ignore[attr-defined]
    tab.wait_for_selector(".cm-content")  # type: ignore[attr-defined]
    tab.click(".cm-content")  # type: ignore[attr-defined]
    keyboard = tab.keyboard  # type: ignore[attr-defined]
    keyboard.press("Control+Home")
    for _ in range(TYPO_LINE - 1):
        keyboard.press("ArrowDown")
    keyboard.press("End")
    keyboard.type("x")  # next: main_menux, a node that does not exist
    problem = tab.wait_for_selector(".problem >> text=main_menux")  # type: ignore[attr-defined]
    assert problem is not None
    item = tab.locator(".problem").first  # type: ignore[attr-defined]
    assert f"line {TYPO_LINE}:" in item.locator(".where").inner_text()
    assert "main_menu" in item.locator(".hint").inner_text()
    tab.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('.flow-editor').shadowRoot"
        ".querySelector('.cm-lint-marker-error')")
    lines = _diagnostic_lines(tab)
    assert any(line == TYPO_LINE and "main_menux" in msg and "hint:" in msg
               for line, msg in lines), lines
    tab.hover(".cm-lint-marker-error")  # type: ignore[attr-defined]
    hint = tab.wait_for_selector(".cm-tooltip-lint .hint")  # type: ignore[attr-defined]
    assert "main_menu" in hint.inner_text()
    tab.screenshot(path="/tmp/admin-editor-error.png")  # type: ignore[attr-defined]

    tab.click(".cm-content")  # type: ignore[attr-defined]
    keyboard.press("Control+Home")
    for _ in range(TYPO_LINE - 1):
        keyboard.press("ArrowDown")
    keyboard.press("End")
    keyboard.press("Backspace")
    keyboard.press("Control+Home")
    keyboard.type("# Edited in the browser.\n")
    tab.wait_for_selector("#lint-status >> text=No problems.")  # type: ignore[attr-defined]
    assert _diagnostic_lines(tab) == []
    tab.fill("input[name=note]", "browser edit")  # type: ignore[attr-defined]
    tab.click("#save-draft")  # type: ignore[attr-defined]
    tab.wait_for_selector("text=Draft saved.")  # type: ignore[attr-defined]
    tab.click("li[data-version='2'] >> text=Publish")  # type: ignore[attr-defined]
    tab.wait_for_selector("text=Published: calls")  # type: ignore[attr-defined]
    assert tab.locator(".page-head .pill-live").inner_text() == "v2"  # type: ignore[attr-defined]
    tab.click("li[data-version='2'] >> text=Changes")  # type: ignore[attr-defined]
    tab.wait_for_selector(".diff-add >> text=# Edited in the browser.")  # type: ignore[attr-defined]
    assert "v1 → v2" in tab.locator("h1").inner_text()  # type: ignore[attr-defined]
    tab.screenshot(path="/tmp/admin-diff.png")  # type: ignore[attr-defined]

    tab.click("li[data-version='1'] >> text=Roll back to v1")  # type: ignore[attr-defined]
    tab.wait_for_selector("text=Rolled back")  # type: ignore[attr-defined]
    assert tab.locator(".page-head .pill-live").inner_text() == "v1"  # type: ignore[attr-defined]
    versions = tab.locator(".versions").inner_text()  # type: ignore[attr-defined]
    assert "admin@example.com" in versions and "browser edit" in versions
    tab.screenshot(path="/tmp/admin-rolled-back.png")  # type: ignore[attr-defined]

    tab.click("nav >> text=Numbers")  # type: ignore[attr-defined]
    tab.fill("input[name=number]", "+1 800 555 0199")  # type: ignore[attr-defined]
    tab.select_option("select[name=flow]", "customer_support")  # type: ignore[attr-defined]
    tab.fill("input[name=label]", "US support")  # type: ignore[attr-defined]
    tab.click("text=Map number")  # type: ignore[attr-defined]
    tab.wait_for_selector("#numbers >> text=+18005550199")  # type: ignore[attr-defined]
    tab.screenshot(path="/tmp/admin-numbers.png")  # type: ignore[attr-defined]

    tab.click("nav >> text=Calls")  # type: ignore[attr-defined]
    tab.select_option("select[name=escalated]", "yes")  # htmx swaps the results in
    tab.wait_for_url("**/calls?*escalated=yes*")  # type: ignore[attr-defined]
    tab.screenshot(path="/tmp/admin-calls.png")  # type: ignore[attr-defined]
    tab.click("#calls-table a.strong")  # type: ignore[attr-defined]
    tab.wait_for_selector("#transcript")  # type: ignore[attr-defined]
    transcript = tab.locator("#transcript").inner_text()  # type: ignore[attr-defined]
    assert HEARD in transcript and PLANNED in transcript and "pressed" in transcript
    assert tab.locator("#latency svg rect.bar").count() == 3  # type: ignore[attr-defined]
    assert "p95 1710 ms" in tab.locator("#latency").inner_text()  # type: ignore[attr-defined]
    tab.screenshot(path="/tmp/admin-call.png", full_page=True)  # type: ignore[attr-defined]
