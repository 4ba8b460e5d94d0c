"""The console's LiveKit token route at the wire: who gets one, for which room, how long.

The real app and database; the escalation broker is the real in-process one holding the
call's ticket (offered, connected, someone else's). The JWT is checked with the LiveKit
SDK's own verifier (signature, expiry) and its claims read as LiveKit reads them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from livekit import api
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.accounts import create_user
from callcenter.escalation import InProcessEscalationBroker
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.tickets import Ticket
from callcenter.models import Call
from tests.web.conftest import SUPERVISOR, seed_users
from tests.web.support import PASSWORD, login, page_csrf

KEY, SECRET = "APIconsole", "console-token-test-secret-0123456789abcdef"
OTHER = "other@example.com"
ROOM = "call-room-7"


def _offer(broker: InProcessEscalationBroker, call_id: str, to: str) -> None:
    async def go() -> None:
        await broker.enqueue(Ticket(call_id=call_id, queue="support", reason="asked"))
        await broker.heartbeat(Presence(to, status=SupervisorStatus.AVAILABLE, capacity=1))
        offers = await broker.route_once()
        assert [o.ticket.offered_to for o in offers] == [to]
    asyncio.run(go())


@pytest.fixture
def lk_app(engine: Engine, make_app: Callable[..., FastAPI]) -> FastAPI:
    seed_users(engine)
    with Session(engine) as db:
        create_user(db, OTHER, PASSWORD, "supervisor")
        db.add(Call(id="call-7", room_name=ROOM))
        db.add(Call(id="call-8", room_name="call-room-8"))
        db.commit()
    app = make_app(engine, livekit_url="https://lk.example.test", livekit_api_key=KEY,
                   livekit_api_secret=SECRET)
    app.state.escalation_broker = InProcessEscalationBroker()
    return app


def _client(app: FastAPI, email: str) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(app)
    assert login(client, email).status_code == 303
    return client, {"X-CSRF-Token": page_csrf(client, "/")}


def test_the_supervisor_offered_a_call_gets_a_short_token_for_its_room_only(
    lk_app: FastAPI,
) -> None:
    broker = lk_app.state.escalation_broker
    _offer(broker, "call-7", SUPERVISOR)
    client, csrf = _client(lk_app, SUPERVISOR)
    before = time.time()
    r = client.post("/api/v1/calls/call-7/livekit-token", headers=csrf)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["url"] == "wss://lk.example.test" and body["room"] == ROOM
    assert body["identity"] == SUPERVISOR
    claims = api.TokenVerifier(KEY, SECRET).verify(body["token"])  # signature and expiry
    assert claims.identity == SUPERVISOR and claims.kind == "standard"
    v = claims.video
    assert v is not None and v.room_join and v.room == ROOM
    assert v.can_publish and v.can_subscribe and v.can_publish_data and not v.room_admin
    assert claims.attributes == {"callcenter.role": "supervisor"}
    raw = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert raw["iss"] == KEY and raw["sub"] == SUPERVISOR
    ttl = raw["exp"] - before
    assert 4 * 60 <= ttl <= 5 * 60 + 5, ttl  # minutes, not LiveKit's default 6 hours
    assert abs(body["expires_at"] - raw["exp"]) < 2


def test_a_connected_supervisor_gets_one_and_nobody_else_does(lk_app: FastAPI) -> None:
    broker = lk_app.state.escalation_broker
    _offer(broker, "call-7", SUPERVISOR)
    asyncio.run(broker.take("call-7", SUPERVISOR))
    mine, mine_csrf = _client(lk_app, SUPERVISOR)
    assert mine.post("/api/v1/calls/call-7/livekit-token", headers=mine_csrf).status_code == 200
    other, other_csrf = _client(lk_app, OTHER)
    r = other.post("/api/v1/calls/call-7/livekit-token", headers=other_csrf)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "not offered to you or connected to you" in r.json()["detail"]
    assert "token" not in r.json()
    # A stored call nobody escalated, and a call that does not exist.
    r = mine.post("/api/v1/calls/call-8/livekit-token", headers=mine_csrf)
    assert r.status_code == 409 and "not escalated" in r.json()["detail"]
    r = mine.post("/api/v1/calls/nope/livekit-token", headers=mine_csrf)
    assert r.status_code == 404


def test_an_offer_to_someone_else_is_refused(lk_app: FastAPI) -> None:
    _offer(lk_app.state.escalation_broker, "call-7", OTHER)
    client, csrf = _client(lk_app, SUPERVISOR)
    r = client.post("/api/v1/calls/call-7/livekit-token", headers=csrf)
    assert r.status_code == 403 and "offered" in r.json()["detail"]


def test_anonymous_and_admin_without_a_call_and_unconfigured_livekit(
    lk_app: FastAPI, engine: Engine, make_app: Callable[..., FastAPI],
) -> None:
    assert TestClient(lk_app).post("/api/v1/calls/call-7/livekit-token").status_code == 401
    bare = make_app(engine)  # no LIVEKIT_* settings
    bare.state.escalation_broker = InProcessEscalationBroker()
    client, csrf = _client(bare, SUPERVISOR)
    r = client.post("/api/v1/calls/call-7/livekit-token", headers=csrf)
    assert r.status_code == 503 and "LIVEKIT_API_KEY" in r.json()["detail"]


def test_monitor_mode_gives_any_supervisor_a_hidden_listen_only_token_for_a_live_call(
    lk_app: FastAPI, engine: Engine,
) -> None:
    client, csrf = _client(lk_app, OTHER)  # nothing offered to them: monitoring is open
    r = client.post("/api/v1/calls/call-7/livekit-token?mode=monitor", headers=csrf)
    assert r.status_code == 200, r.text
    claims = api.TokenVerifier(KEY, SECRET).verify(r.json()["token"])
    v = claims.video
    assert claims.identity == f"monitor:{OTHER}" and v is not None and v.room == ROOM
    assert v.hidden and v.can_subscribe and not v.can_publish and not v.can_publish_data
    with Session(engine) as db:
        call = db.get(Call, "call-7")
        assert call is not None
        call.ended_at = call.started_at
        db.add(call)
        db.commit()
    r = client.post("/api/v1/calls/call-7/livekit-token?mode=monitor", headers=csrf)
    assert r.status_code == 409 and "ended" in r.json()["detail"]
