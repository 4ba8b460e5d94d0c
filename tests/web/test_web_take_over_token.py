"""The console's LiveKit token for a call a supervisor took over from the AI: the call's
own timeline (its `taken_over` event, no hand-back since) says whose it is; nobody else
gets a talk token, and the taker loses it once the call is handed back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from livekit import api
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.accounts import create_user
from callcenter.escalation import InProcessEscalationBroker
from callcenter.models import Call, CallEvent
from tests.web.conftest import SUPERVISOR, seed_users
from tests.web.support import PASSWORD, login, page_csrf

KEY, SECRET = "APIconsole", "console-token-test-secret-0123456789abcdef"
OTHER = "other@example.com"
ROOM = "call-room-take"


@pytest.fixture
def app(engine: Engine, make_app: Callable[..., FastAPI]) -> FastAPI:
    seed_users(engine)
    with Session(engine) as db:
        create_user(db, OTHER, PASSWORD, "supervisor")
        db.add(Call(id="call-t", room_name=ROOM))
        db.commit()
        db.add(CallEvent(call_id="call-t", seq=1, type="taken_over",
                         data={"node": "ask_zip", "supervisor": SUPERVISOR}))
        db.commit()
    app = make_app(engine, livekit_url="https://lk.example.test", livekit_api_key=KEY,
                   livekit_api_secret=SECRET)
    app.state.escalation_broker = InProcessEscalationBroker()  # no ticket: never queued
    return app


def _token(app: FastAPI, email: str) -> tuple[int, dict[str, object]]:
    client = TestClient(app)
    assert login(client, email).status_code == 303
    r = client.post("/api/v1/calls/call-t/livekit-token",
                    headers={"X-CSRF-Token": page_csrf(client, "/")})
    return r.status_code, r.json()


def test_the_taker_gets_a_talk_token_for_the_room_and_nobody_else(
    app: FastAPI, engine: Engine
) -> None:
    status, body = _token(app, SUPERVISOR)
    assert status == 200, body
    claims = api.TokenVerifier(KEY, SECRET).verify(str(body["token"]))
    assert claims.identity == SUPERVISOR and body["room"] == ROOM
    v = claims.video
    assert v is not None and v.room_join and v.room == ROOM and v.can_publish is not False
    status, body = _token(app, OTHER)
    assert status == 409 and "not escalated" in str(body["detail"])

    with Session(engine) as db:  # the flow's record of the hand-back
        db.add(CallEvent(call_id="call-t", seq=2, type="escalation",
                         data={"node": "ask_zip", "outcome": "handed_back",
                               "taken_over": True}))
        db.commit()
    status, body = _token(app, SUPERVISOR)
    assert status == 409, "handed back: the AI has the call again"
