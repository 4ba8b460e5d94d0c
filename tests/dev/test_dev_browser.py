"""Headless Chromium on the real pages of `callcenter dev`: the browser phone and the console.

Chromium's fake microphone plays a WAV (`--use-file-for-fake-audio-capture`); what a page
hears is measured in the page with WebAudio (level and dominant frequency), never by a flag.
Playwright drives the Debian `/usr/bin/chromium` (never `playwright install`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from admin.app import create_app
from callcenter.audio.wav import write_wav
from callcenter.dev import DevOptions, DevServer

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the chromium package (scripts/setup)"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking"]
SHOTS = Path("/tmp")


@dataclass
class Running:
    url: str
    dev: DevServer
    passwords: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    import uvicorn

    dev = DevServer(options=DevOptions(sip_port=None))
    status = await dev.start()
    app = create_app(dev.settings, engine=dev.engine)
    app.state.dev = dev
    port = _free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                        lifespan="off"))
    serving = asyncio.ensure_future(web.serve())
    while not web.started:
        await asyncio.sleep(0.05)
    try:
        yield Running(f"http://127.0.0.1:{port}", dev,
                      {login.email: login.password or "" for login in status.logins})
    finally:
        web.should_exit = True
        await asyncio.wait_for(serving, 10)
        await dev.aclose()


def wav(tmp: Path, name: str, hz: float | None) -> Path:
    """Ten seconds of a tone (or silence) at 48 kHz: Chromium loops it as the microphone."""
    t = np.arange(48000 * 10) / 48000
    samples = np.zeros(len(t)) if hz is None else 0.3 * 32767 * np.sin(2 * np.pi * hz * t)
    path = tmp / name
    write_wav(path, samples.astype(np.int16), 48000)
    return path


@contextlib.asynccontextmanager
async def browser(pw: Any, mic: Path) -> AsyncIterator[Any]:
    b = await pw.chromium.launch(executable_path=str(CHROMIUM),
                                 args=[*ARGS, f"--use-file-for-fake-audio-capture={mic}"])
    try:
        yield await b.new_page(viewport={"width": 1400, "height": 1000})
    finally:
        await b.close()


async def login(page: Any, run: Running, email: str) -> None:
    await page.goto(run.url + "/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", run.passwords[email])
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r".*/$"))


async def until(page: Any, js: str, timeout: float, what: str) -> Any:
    # Polled from here: the pages' CSP forbids the eval that wait_for_function needs.
    for _ in range(int(timeout * 5)):
        value = await page.evaluate(js)
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def hears(api: str, hz: float) -> str:
    return (f"window.{api}.level() > 0.005 && "
            f"Math.abs(window.{api}.dominantHz() - {hz}) < 25")


ADMIN, SUPERVISOR = "admin@callcenter.dev", "supervisor@callcenter.dev"
TRANSCRIPT = "document.querySelector('#{}').innerText"


async def test_browser_phone_calls_hears_the_agent_and_completes_the_flow(
    running: Running, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw, browser(pw, wav(tmp_path, "quiet.wav", None)) as page:
        await login(page, running, ADMIN)
        await page.goto(running.url + "/phone")
        await page.click("#phone-call")
        # The greeting, as audio in the page: speech energy in the voice band.
        await until(page, "window.callcenterPhone.level() > 0.01", 45, "the agent's voice")
        hz = await page.evaluate("window.callcenterPhone.dominantHz()")
        assert 80 < hz < 4000, hz
        await until(page, TRANSCRIPT.format("phone-transcript") + ".includes('press 0')", 40,
                    "the menu in the transcript")
        await page.click("[data-key='0']")  # a person, please; nobody is available
        await until(page, "document.querySelector('#phone').dataset.state === 'idle'", 40,
                    "the agent to finish the call")
        await page.screenshot(path=str(SHOTS / "dev-test-phone.png"))
        text = await page.evaluate(TRANSCRIPT.format("phone-transcript"))
    assert "pressed 0" in text and "busy" in text and "Goodbye" in text, text


async def test_supervisor_takes_a_browser_call_in_the_console_and_hands_it_back(
    running: Running, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    async with (async_playwright() as pw,
                browser(pw, wav(tmp_path, "caller.wav", 440)) as caller,
                browser(pw, wav(tmp_path, "supervisor.wav", 700)) as sup):
        await login(caller, running, ADMIN)
        await login(sup, running, SUPERVISOR)
        await sup.goto(running.url + "/console")
        await sup.click("#presence [data-status=available]")
        await caller.goto(running.url + "/phone")
        await caller.click("#phone-call")
        await until(caller, TRANSCRIPT.format("phone-transcript") + ".includes('press 0')",
                    60, "the menu")
        await caller.click("[data-key='0']")
        await sup.wait_for_selector("#console-offer .offer", timeout=30000)
        await until(sup, "document.querySelector('#console-queue').innerText.includes('high')",
                    10, "the waiting call in the queue")
        await sup.screenshot(path=str(SHOTS / "dev-test-console-queue.png"))
        await sup.click("#console-offer [data-action=accept]")
        # Both ways, by frequency: 440 Hz from the caller's microphone at the supervisor,
        # 700 Hz from the supervisor's at the caller.
        await until(sup, hears("callcenterConsole", 440), 20, "the caller at the supervisor")
        await until(caller, hears("callcenterPhone", 700), 20, "the supervisor at the caller")
        await until(sup, "document.querySelector('#call-brief').innerText.includes('person')",
                    10, "the hand-off brief")
        await until(sup, "document.querySelector('#call-suggestions .suggestion-next_step')"
                    " !== null", 10, "the AI's hand-back suggestion beside the transcript")
        await sup.screenshot(path=str(SHOTS / "dev-test-console-call.png"))
        await sup.fill("[data-action=coach] input[name=text]", "offer free shipping")
        await sup.click("[data-action=coach] button")
        await sup.select_option("[data-action=handback] select", "goodbye")
        await sup.click("[data-action=handback] button")
        await until(caller, "document.querySelector('#phone').dataset.state === 'idle'", 40,
                    "the AI to finish the call after the hand-back")
        await until(sup, TRANSCRIPT.format("call-transcript") + ".includes('Call ended')", 10,
                    "the end in the console")
        await sup.screenshot(path=str(SHOTS / "dev-test-console-after.png"))
        console_text = await sup.evaluate(TRANSCRIPT.format("call-transcript"))
    assert "Goodbye" in console_text and "supervisor@callcenter.dev joined" in console_text
    assert "free shipping" not in console_text, "coaching never reaches the caller"
    call = running.dev.live_calls()
    assert call == []


async def test_supervisor_monitors_a_live_ai_call_silently_then_takes_it_over_and_hands_back(
    running: Running, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright
    from sqlmodel import Session, col, select

    from callcenter.models import CallEvent

    async with (async_playwright() as pw,
                browser(pw, wav(tmp_path, "caller.wav", 440)) as caller,
                browser(pw, wav(tmp_path, "supervisor.wav", 700)) as sup):
        await login(caller, running, ADMIN)
        await login(sup, running, SUPERVISOR)
        await sup.goto(running.url + "/console")
        await caller.goto(running.url + "/phone")
        await caller.click("#phone-call")
        await until(caller, TRANSCRIPT.format("phone-transcript") + ".includes('press 0')",
                    60, "the menu")
        await sup.wait_for_selector("#console-calls [data-action=listen]", timeout=20000)
        await sup.click("#console-calls [data-action=listen]")
        await until(sup, hears("callcenterConsole", 440), 20, "the caller at the monitor")
        await until(sup, TRANSCRIPT.format("call-transcript") + ".includes('press 0')", 10,
                    "the live transcript in the monitor view")
        # The monitor's 700 Hz microphone never reaches the caller.
        for _ in range(10):
            assert not await caller.evaluate(hears("callcenterPhone", 700))
            await asyncio.sleep(0.2)
        await sup.screenshot(path=str(SHOTS / "dev-test-console-monitor.png"))
        # Barge in: the AI had the call alone; now the supervisor talks and the AI listens.
        await sup.click("[data-action=takeover]")
        await until(sup, "document.querySelector('.call-panel').dataset.mode === 'call'", 10,
                    "the call view of the taken-over call")
        await until(caller, hears("callcenterPhone", 700), 20, "the supervisor at the caller")
        [call] = running.dev.live_calls()
        await sup.click("form[data-action=handback] button[type=submit]")
        await until(sup, "document.querySelector('#call-state').innerText.includes('Handed')",
                    10, "the hand-back")
    with Session(running.dev.engine) as s:
        audit = [(e.type, e.data) for e in s.exec(select(CallEvent).where(
            CallEvent.call_id == call.call_id,
            col(CallEvent.type).in_(("control_monitor", "control_take_over",
                                     "control_hand_back"))).order_by(col(CallEvent.seq)))]
    assert [t for t, _ in audit] == ["control_monitor", "control_take_over",
                                     "control_hand_back"], audit
    assert audit[1][1]["identity"] == SUPERVISOR
