"""Headless Chromium on the console: a live call's alerts flag it in the live list as they
come, and show as lines in its call view (replayed for a console that opens it late)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dev.test_dev_browser import (  # noqa: F401  (the fixture, by name)
    CHROMIUM,
    SUPERVISOR,
    Running,
    browser,
    login,
    running,
    until,
    wav,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the chromium package (scripts/setup)"),
]


async def test_the_console_flags_a_call_whose_caller_said_a_watched_phrase(
    running: Running, tmp_path: Path  # noqa: F811
) -> None:
    from playwright.async_api import async_playwright

    call = running.dev._new_call("+15550001000", "browser")  # a live call, no agent needed
    async with async_playwright() as pw, browser(pw, wav(tmp_path, "quiet.wav", None)) as page:
        await login(page, running, SUPERVISOR)
        await page.goto(running.url + "/console")
        await until(page, f"document.querySelector('[data-call-id=\"{call.call_id}\"]')", 20,
                    "the call in the live list")
        assert await page.locator("#console-calls .pill-alert").count() == 0
        call.add_event("alert", {"kind": "phrase", "message": "Caller said \u201clawyer\u201d",
                                 "said": "I will call my lawyer", "phrase": "lawyer"})
        badge = await until(page, "(document.querySelector('#console-calls .pill-alert') || "
                                  "{}).innerText", 20, "the alert badge in the live list")
        assert "lawyer" in badge
        await page.click(f"button[data-action=listen][data-call-id=\"{call.call_id}\"]")
        line = await until(page, "(document.querySelector('#call-transcript .line-alert') || "
                                 "{}).innerText", 20, "the alert line in the call view")
        assert "I will call my lawyer" in line
        assert await page.locator(".call-head .pill-alert").count() == 1
        call.add_event("alert", {"kind": "sentiment", "said": "this is ridiculous",
                                 "message": "Caller sentiment dropped to -0.61", "score": -0.61})
        await until(page, "document.querySelectorAll('#call-transcript .line-alert').length == 2",
                    20, "the second alert as it came")
        await page.screenshot(path="/tmp/shots/console-alert.png")
