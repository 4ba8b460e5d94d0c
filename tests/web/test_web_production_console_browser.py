"""The production console page in headless Chromium: Redis behind it, LiveKit in front.

The app is `callcenter api`'s (no dev server) on the machine's Redis with a prefix of the
test's own; a stand-in worker (tests/web/prod_worker.py) escalates a call through the
Redis broker and writes its record. The LiveKit end is the fake signal server of
test_web_livekit_transport (LiveKit's /rtc websocket at the wire, the token checked with
the SDK's verifier). A supervisor signs in, goes available, gets the offer ringing on the
page, accepts: the page's livekit-client joins the call's room with the token the API gave
for that room, the panel shows the call's live transcript and suggestion as the worker
stores them; "Listen" on the live call asks for a hidden monitor token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from callcenter.callsession.recorder import CallInfo
from tests.redis_db import redis11_url, redis_prefix  # noqa: F401  (fixtures)
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.web.conftest import SUPERVISOR, seed_users
from tests.web.prod_worker import TestWorker
from tests.web.support import PASSWORD
from tests.web.test_web_livekit_transport import KEY, SECRET, VENDOR, FakeSignal

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")
CALL = CallInfo(call_id="call-b1", room_name="call-room-b1", caller_number="+15550008888",
                dialed_number="+15550001000")


@pytest.fixture
def signal() -> Iterator[FakeSignal]:
    with FakeSignal() as fake:
        yield fake


def _wait(check: Callable[[], bool], timeout_s: float, tab: object, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        tab.wait_for_timeout(200)  # type: ignore[attr-defined]


def test_production_console_rings_accepts_and_joins_the_room_with_livekit_client(
    engine: Engine, make_app: Callable[..., FastAPI], signal: FakeSignal,
    redis11_url: str, redis_prefix: str,  # noqa: F811
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (scripts/setup installs it)")
    assert list(VENDOR.glob("livekit-client-*.min.js")), "run scripts/build-static"
    seed_users(engine)
    app = make_app(engine, redis_url=redis11_url, redis_key_prefix=redis_prefix,
                   livekit_url=f"http://127.0.0.1:{signal.port}", livekit_api_key=KEY,
                   livekit_api_secret=SECRET)
    with TestWorker(redis11_url, redis_prefix, engine, CALL) as worker, \
            live_server(app) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            *CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream"])
        tab = browser.new_page(base_url=url)
        errors: list[str] = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto("/login")
        tab.fill("input[name=email]", SUPERVISOR)
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button[type=submit]")
        tab.goto("/console")
        assert tab.get_attribute("#console", "data-transport") == "livekit"
        tab.click("#presence [data-status=available]")
        _wait(lambda: tab.get_attribute("#presence", "data-status") == "available", 10, tab,
              "presence did not turn available")
        waiting = worker.start(worker.escalate("caller asked for a person",
                                               {"order_number": "482913"}))
        tab.wait_for_selector("#console-offer .offer", timeout=30000)
        assert "caller asked for a person" in tab.inner_text("#console-offer")
        assert CALL.call_id in tab.inner_text("#console-queue")
        tab.click("#console-offer [data-action=accept]")
        assert waiting.result(30).supervisor == SUPERVISOR
        _wait(lambda: bool(signal.claims), 30, tab, f"no join at the fake LiveKit: {errors}")
        claims = signal.claims[0]
        assert claims.identity == SUPERVISOR and claims.video is not None
        assert claims.video.room == CALL.room_name and claims.video.room_join
        assert not claims.video.hidden

        worker.run(worker.say("caller", "sip_caller", "I would like a refund please"))
        worker.run(worker.event("suggestion", {"kind": "answer", "text": "Refunds take "
                                               "five days", "confidence": 0.7}))
        worker.run(worker.say("supervisor", SUPERVISOR, "Let me look at that for you"))
        tab.wait_for_selector("#call-transcript [data-role=supervisor]", timeout=20000)
        tab.wait_for_selector("#call-suggestions [data-kind=answer]", timeout=20000)
        assert "refund" in tab.inner_text("#call-transcript").lower()

        # End call reaches the worker over Redis; the call is still live in the record
        # (the stand-in does not hang up), so "Listen" on it asks for a monitor token.
        tab.click("[data-action=end]")
        tab.wait_for_selector("#console-calls [data-action=listen]", timeout=20000)
        before = len(signal.claims)
        tab.click("#console-calls [data-action=listen]")
        _wait(lambda: len(signal.claims) > before, 30, tab, "no monitor join")
        monitor = signal.claims[-1]
        browser.close()
    assert monitor.identity == f"monitor:{SUPERVISOR}" and monitor.video is not None
    assert monitor.video.hidden and monitor.video.can_publish is False
    assert [c.kind for c in worker.commands] == ["hangup"], worker.commands  # End call
    assert not [e for e in errors if "LivekitClient" in e or "console" in e], errors
