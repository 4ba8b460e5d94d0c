"""The console's production transport in headless Chromium, against a fake LiveKit server.

No LiveKit server runs here (FACTS), so the far end is a fake that speaks LiveKit's signal
protocol at the wire: a websocket at /rtc carrying binary `SignalRequest`/`SignalResponse`
protobufs, the token checked with the SDK's `TokenVerifier`. The page is a signed-in page
of the app in production mode (no dev server attached), the SDK the vendored
livekit-client. What is checked: the console transport's `connect()` loads the SDK, gets
a token from the API for the supervisor's own call, opens the signal connection with it
for that room, and the SDK takes our JoinResponse (it starts pinging at the interval we
set). Media cannot be connected without a real SFU; that is the opt-in suite's job
against a real server.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from fastapi import FastAPI
from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol import models, rtc
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.escalation import InProcessEscalationBroker
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.tickets import Ticket
from callcenter.models import Call
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.web.conftest import SUPERVISOR, seed_users
from tests.web.support import PASSWORD

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")
VENDOR = Path(__file__).resolve().parents[2] / "admin/static/vendor"
KEY, SECRET = "APIbrowser", "browser-transport-secret-0123456789abcdef"
ROOM = "call-room-42"


class FakeSignal:
    """LiveKit's /rtc websocket: verifies the token, answers the join, logs requests."""

    def __init__(self) -> None:
        self.claims: list[Claims] = []
        self.queries: list[dict[str, str]] = []
        self.requests: list[str] = []  # the `message` field name of each SignalRequest
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FakeSignal:
        self._thread.start()
        assert self._ready.wait(10), "fake LiveKit did not start"
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/rtc", self._rtc)
        app.router.add_get("/rtc/{tail:.*}", self._rtc)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    async def _rtc(self, request: web.Request) -> web.StreamResponse:
        self.queries.append(dict(request.query))
        try:
            claims = api.TokenVerifier(KEY, SECRET).verify(request.query.get("access_token", ""))
        except Exception as exc:  # what LiveKit answers a bad token with
            return web.Response(status=401, text=f"invalid token: {exc}")
        self.claims.append(claims)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert claims.video is not None
        join = rtc.JoinResponse(
            room=models.Room(sid="RM_fake", name=claims.video.room),
            participant=models.ParticipantInfo(sid="PA_fake", identity=claims.identity,
                                               state=models.ParticipantInfo.State.JOINED),
            server_version="1.9.0", subscriber_primary=True, ping_interval=1, ping_timeout=20)
        await ws.send_bytes(rtc.SignalResponse(join=join).SerializeToString())
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                req = rtc.SignalRequest()
                req.ParseFromString(msg.data)
                self.requests.append(req.WhichOneof("message") or "")
                if req.WhichOneof("message") == "ping_req":
                    pong = rtc.Pong(last_ping_timestamp=req.ping_req.timestamp,
                                    timestamp=int(time.time() * 1000))
                    await ws.send_bytes(rtc.SignalResponse(pong_resp=pong).SerializeToString())
        return ws


def _join_request(query: dict[str, str]) -> rtc.JoinRequest:
    """The join of the signal URL: `join_request` (a base64 WrappedJoinRequest, livekit-client
    2.2x on /rtc/v1), or the older plain query parameters."""
    if "join_request" not in query:
        return rtc.JoinRequest(connection_settings=rtc.ConnectionSettings(
            auto_subscribe=query.get("auto_subscribe") in ("1", "true")))
    wrapped = rtc.WrappedJoinRequest()
    wrapped.ParseFromString(base64.urlsafe_b64decode(query["join_request"] + "=="))
    data = wrapped.join_request
    if wrapped.compression == rtc.WrappedJoinRequest.Compression.GZIP:
        data = gzip.decompress(data)
    join = rtc.JoinRequest()
    join.ParseFromString(data)
    return join


@pytest.fixture
def signal() -> Iterator[FakeSignal]:
    with FakeSignal() as fake:
        yield fake


@pytest.fixture
def lk_app(engine: Engine, make_app: Callable[..., FastAPI], signal: FakeSignal) -> FastAPI:
    seed_users(engine)
    with Session(engine) as db:
        db.add(Call(id="call-42", room_name=ROOM))
        db.commit()
    app = make_app(engine, livekit_url=f"http://127.0.0.1:{signal.port}",
                   livekit_api_key=KEY, livekit_api_secret=SECRET)
    broker = InProcessEscalationBroker()

    async def offer() -> None:
        await broker.enqueue(Ticket(call_id="call-42", queue="support", reason="asked"))
        await broker.heartbeat(Presence(SUPERVISOR, status=SupervisorStatus.AVAILABLE))
        assert [o.ticket.offered_to for o in await broker.route_once()] == [SUPERVISOR]
        assert await broker.take("call-42", SUPERVISOR) is not None
    asyncio.run(offer())
    app.state.escalation_broker = broker
    return app


def test_console_connects_through_livekit_client_with_its_own_room_token(
    lk_app: FastAPI, signal: FakeSignal,
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    assert list(VENDOR.glob("livekit-client-*.min.js")), "run scripts/build-static"
    with live_server(lk_app) as url, sync_api.sync_playwright() as p:
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
        # The production console page is not built yet (its queue needs a production
        # backend); the transport is a plain file any signed-in page can load.
        tab.goto("/")
        tab.add_script_tag(url="/static/meter.js")
        tab.add_script_tag(url="/static/transport-livekit.js")
        tab.evaluate("""() => {
          window.lkStates = [];
          window.lkResult = null;
          window.callcenterTransports.livekit.connect({
            url: "/console/calls/call-42/join", audio: null,
            onState: (s) => window.lkStates.push(s),
          }).then(() => { window.lkResult = "connected"; },
                  (e) => { window.lkResult = "error: " + e.message; });
        }""")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "ping_req" not in signal.requests:
            tab.wait_for_timeout(200)
        info: dict[str, Any] = tab.evaluate(
            "() => ({sdk: typeof window.LivekitClient, version: window.LivekitClient &&"
            " window.LivekitClient.version, states: window.lkStates, result: window.lkResult})")
        browser.close()
    assert info["sdk"] == "object" and info["version"] == "2.23.0", info
    assert len(signal.claims) >= 1, (info, signal.queries, errors)
    claims = signal.claims[0]
    assert claims.identity == SUPERVISOR and claims.video is not None
    assert claims.video.room == ROOM and claims.video.room_join
    join = _join_request(signal.queries[0])  # what the SDK asked to join with
    assert join.connection_settings.auto_subscribe, join
    assert join.client_info.sdk == models.ClientInfo.SDK.JS, join.client_info
    assert "ping_req" in signal.requests, (signal.requests, info)  # it took our JoinResponse
    assert "connecting" in info["states"], info
    assert not [e for e in errors if "LivekitClient" in e or "transport" in e], errors
