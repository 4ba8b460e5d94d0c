"""The supervisor console on `callcenter api` (production): the workers' Redis, no dev server.

Real parts: the app served by uvicorn, SQLite, the machine's Redis (a key prefix of the
test's own), the Redis escalation broker and control bus on both sides. The far side is a
stand-in worker (tests/web/prod_worker.py) that escalates a call through the call
session's own port, serves the call's commands and writes its record, as a worker does.
What is checked is what a supervisor sees and does over HTTP: the queue and the offer on
the console's event stream, accept, the room-scoped LiveKit token, the live transcript,
brief and suggestion of the call, coaching and hand-back reaching the worker, monitoring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from livekit import api
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.accounts import create_user
from callcenter.callsession.recorder import CallInfo
from callcenter.console.production import ProductionConsole
from callcenter.control import Coach, HandBack
from callcenter.dev.seed import seed_flows
from callcenter.escalation.presence import SupervisorStatus
from tests.redis_db import redis11_url, redis_prefix  # noqa: F401  (fixtures)
from tests.web.browser import live_server
from tests.web.conftest import SUPERVISOR, seed_users
from tests.web.prod_worker import TestWorker
from tests.web.sse import read_until, sign_in, stream
from tests.web.support import PASSWORD

KEY, SECRET = "APIprod", "production-console-secret-0123456789abcdef"
OTHER = "other@example.com"
CALL = CallInfo(call_id="call-p1", room_name="call-room-p1", caller_number="+15550009999",
                dialed_number="+15550001000")


@pytest.fixture
def prod_app(engine: Engine, make_app: Callable[..., FastAPI], redis11_url: str,  # noqa: F811
             redis_prefix: str) -> FastAPI:  # noqa: F811
    seed_users(engine)
    seed_flows(engine)  # the example flows on the dev numbers: hand-back choices
    with Session(engine) as db:
        create_user(db, OTHER, PASSWORD, "supervisor")
        db.commit()
    return make_app(engine, redis_url=redis11_url, redis_key_prefix=redis_prefix,
                    livekit_url="https://lk.example.test", livekit_api_key=KEY,
                    livekit_api_secret=SECRET)


@pytest.fixture
def worker(engine: Engine, redis11_url: str, redis_prefix: str  # noqa: F811
           ) -> Iterator[TestWorker]:
    with TestWorker(redis11_url, redis_prefix, engine, CALL) as w:
        yield w


def _has(name: str, text: str) -> Callable[[list[tuple[str, str]]], bool]:
    return lambda seen: any(n == name and text in d for n, d in seen)


def test_a_call_escalated_on_redis_is_queued_offered_accepted_and_joined_from_the_console(
    prod_app: FastAPI, worker: TestWorker,
) -> None:
    with live_server(prod_app) as base:
        sup, csrf = sign_in(base, SUPERVISOR, PASSWORD)
        page = sup.get("/console").text
        assert 'data-transport="livekit"' in page and 'id="presence"' in page, page[-1500:]
        assert "console-unavailable" not in page
        r = sup.post("/console/presence", json={"status": "available"}, headers=csrf)
        assert r.status_code == 200 and r.json() == {"status": "available"}, r.text
        waiting = worker.start(worker.escalate("caller asked for a person",
                                               {"order_number": "482913"}))
        with stream(sup, "/console/events") as desk:
            seen = read_until(desk, lambda s: _has("queue", CALL.call_id)(s)
                              and _has("offer", "data-offer-id")(s), 30)
        offer = next(d for n, d in seen if n == "offer")
        assert "caller asked for a person" in offer and "482913" in offer, offer
        offer_id = offer.split('data-offer-id="', 1)[1].split('"', 1)[0]
        live = [d for n, d in seen if n == "calls"]
        assert live and CALL.call_id in live[-1] and "Listen" in live[-1], live

        # The token before accepting: the call is offered to this supervisor, so it is
        # theirs to join; another supervisor's talk token is refused.
        other, other_csrf = sign_in(base, OTHER, PASSWORD)
        refused = other.post(f"/api/v1/calls/{CALL.call_id}/livekit-token", headers=other_csrf)
        assert refused.status_code == 403, refused.text

        r = sup.post(f"/console/offers/{offer_id}/accept", headers=csrf)
        assert r.status_code == 200, r.text
        assert r.json()["call_id"] == CALL.call_id and "On the call" in r.json()["panel"]
        assert 'value="ask_order_number"' in r.json()["panel"]  # hand-back choices
        result = waiting.result(30)  # the worker's escalation port hears who took it
        assert (result.outcome, result.supervisor) == ("connected", SUPERVISOR), result

        r = sup.post(f"/api/v1/calls/{CALL.call_id}/livekit-token", headers=csrf)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        claims = api.TokenVerifier(KEY, SECRET).verify(r.json()["token"])
        assert claims.identity == SUPERVISOR and claims.video is not None
        assert claims.video.room == CALL.room_name and claims.video.room_join
        assert r.json()["url"] == "wss://lk.example.test"

        # The live call as the supervisor follows it: lines, brief, suggestion, the end.
        worker.run(worker.say("caller", "sip_caller", "I want to talk to a person"))
        worker.run(worker.event("handoff_brief", {"reason": "caller asked for a person",
                                                  "slots": {"order_number": "482913"}}))
        worker.run(worker.event("suggestion", {"kind": "next_step", "text": "resume at "
                                               "ask_order_number", "confidence": 0.8}))
        worker.run(worker.say("supervisor", SUPERVISOR, "Hi, this is Sam, how can I help"))
        worker.run(worker.say("agent", "agent", "Sam has joined the call"))
        worker.run(worker.event("alert", {"kind": "phrase", "message": "watched phrase: "
                                          "lawyer", "said": "or I call my lawyer"}))
        with stream(sup, f"/console/calls/{CALL.call_id}/events") as feed:
            got = read_until(feed, _has("transcript", "Sam has joined"), 20)
            r = sup.post(f"/console/calls/{CALL.call_id}/coach",
                         json={"text": "offer a refund"}, headers=csrf)
            assert r.status_code == 200 and r.json() == {"ok": True, "kind": "coach"}, r.text
            r = sup.post(f"/console/calls/{CALL.call_id}/handback",
                         json={"node": "ask_order_number"}, headers=csrf)
            assert r.status_code == 200, r.text
            worker.run(worker.end())
            got += read_until(feed, lambda s: any(n == "ended" for n, _ in s), 20)
        kinds = [n for n, _ in got]
        assert {"transcript", "brief", "suggestion", "alert", "ended"} <= set(kinds), got
        assert "my lawyer" in next(d for n, d in got if n == "alert")
        lines = " ".join(d for n, d in got if n == "transcript")
        for role in ("caller", "supervisor", "agent"):
            assert f'data-role="{role}"' in lines, lines
        assert "482913" in next(d for n, d in got if n == "brief")
        assert "ask_order_number" in next(d for n, d in got if n == "suggestion")
    coach, back = worker.commands
    assert isinstance(coach, Coach) and coach.text == "offer a refund" and coach.by == SUPERVISOR
    assert isinstance(back, HandBack) and back.node == "ask_order_number"


def test_monitor_gives_a_listen_panel_and_a_hidden_token_for_a_live_call(
    prod_app: FastAPI, worker: TestWorker,
) -> None:
    worker.run(worker.event("alert", {"kind": "sentiment", "message": "sentiment dropped"}))
    with live_server(prod_app) as base:
        other, csrf = sign_in(base, OTHER, PASSWORD)
        with stream(other, "/console/events") as desk:  # the live list, flagged
            seen = read_until(desk, _has("calls", "pill-alert"), 20)
        assert "sentiment dropped" in next(d for n, d in seen if n == "calls")
        r = other.post(f"/console/calls/{CALL.call_id}/listen", headers=csrf)
        assert r.status_code == 200 and "Listening to" in r.json()["panel"], r.text
        r = other.post(f"/api/v1/calls/{CALL.call_id}/livekit-token?mode=monitor",
                       headers=csrf)
        assert r.status_code == 200, r.text
        claims = api.TokenVerifier(KEY, SECRET).verify(r.json()["token"])
        assert claims.video is not None and claims.video.room == CALL.room_name
        assert claims.video.hidden and claims.video.can_publish is False
        assert claims.identity == f"monitor:{OTHER}"
        # The dev-only WebRTC routes say what to use instead.
        r = other.post(f"/console/calls/{CALL.call_id}/monitor", json={"sdp": "v=0 " * 5},
                       headers=csrf)
        assert r.status_code == 409 and "livekit-token" in r.json()["detail"], r.text
        assert other.post("/console/calls/nope/listen", headers=csrf).status_code == 404


def test_without_redis_the_console_page_says_what_to_set(
    engine: Engine, make_app: Callable[..., FastAPI],
) -> None:
    seed_users(engine)
    with live_server(make_app(engine)) as base:
        sup, csrf = sign_in(base, SUPERVISOR, PASSWORD)
        page = sup.get("/console").text
        assert "console-unavailable" in page and "REDIS_URL" in page
        r = sup.post("/console/presence", json={"status": "available"}, headers=csrf)
        assert r.status_code == 503 and "REDIS_URL" in r.json()["detail"]


def test_presence_set_on_one_api_process_is_kept_by_another_ones_heartbeats(
    engine: Engine, redis11_url: str, redis_prefix: str,  # noqa: F811
) -> None:
    from callcenter.control.redis_bus import RedisControlBus
    from callcenter.escalation.redis_broker import RedisEscalationBroker

    def console() -> ProductionConsole:
        return ProductionConsole(RedisEscalationBroker.from_url(redis11_url, prefix=redis_prefix),
                                 RedisControlBus.from_url(redis11_url, prefix=redis_prefix),
                                 engine, routing=False)

    async def go() -> list[str]:
        a, b = console(), console()  # two `api --workers` processes
        try:
            await a.desk.set_status(SUPERVISOR, SupervisorStatus.AVAILABLE)
            await b.desk.heartbeat(SUPERVISOR)  # b's stream never saw the switch
            seen = [p.status.value for p in await b.broker.supervisors()]
            await b.desk.set_status(SUPERVISOR, SupervisorStatus.AWAY)
            await a.desk.heartbeat(SUPERVISOR)
            return seen + [p.status.value for p in await a.broker.supervisors()]
        finally:
            await a.aclose()
            await b.aclose()

    assert asyncio.run(go()) == ["available", "away"]


def test_callcenter_api_says_at_start_what_the_console_has_behind_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from callcenter.cli.api import _console_note
    from callcenter.config import load_settings

    caplog.set_level("INFO", logger="callcenter.cli.api")
    _console_note(load_settings())
    _console_note(load_settings(redis_url="redis://127.0.0.1:6379/11"))
    _console_note(load_settings(redis_url="redis://127.0.0.1:6379/11", redis_key_prefix="x:",
                                livekit_url="wss://lk.example.test", livekit_api_key=KEY,
                                livekit_api_secret=SECRET))
    said = [r.getMessage() for r in caplog.records]
    assert "set REDIS_URL" in said[0] and "set LIVEKIT_URL" in said[1], said
    assert "key prefix x:" in said[2] and "LiveKit" in said[2], said
