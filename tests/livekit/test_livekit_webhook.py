"""`POST /livekit/webhook`: signed events recorded onto calls; bad signatures rejected."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from livekit.protocol import models as lk
from livekit.protocol.webhook import WebhookEvent
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from admin.app import create_app
from callcenter.config import load_settings
from callcenter.models import Call, CallEvent
from callcenter.testing.livekit.webhooks import sign_webhook, webhook_body

KEY, SECRET = "whkey", "webhook-secret-0123456789-abcdefghij"


@pytest.fixture
def enqueued() -> list[str]:
    return []


@pytest.fixture
def client(sqlite_engine: Engine, enqueued: list[str]) -> TestClient:
    settings = load_settings(livekit_api_key=KEY, livekit_api_secret=SECRET)
    app = create_app(settings, engine=sqlite_engine, enqueue_postcall=enqueued.append)
    return TestClient(app)


def event(kind: str, eid: str, room: str = "call-42", **fields: object) -> WebhookEvent:
    ev = WebhookEvent(event=kind, id=eid, created_at=int(time.time()))
    ev.room.name, ev.room.sid = room, "RM_1"
    ev.room.creation_time = int(time.time()) - 5
    for name, value in fields.items():
        getattr(ev, name).CopyFrom(value)
    return ev


def sip_caller() -> lk.ParticipantInfo:
    p = lk.ParticipantInfo(identity="sip_+15551230000", kind=lk.ParticipantInfo.Kind.SIP)
    p.attributes.update({"sip.phoneNumber": "+15551230000", "sip.trunkPhoneNumber": "+18005550100"})
    return p


def post(
    client: TestClient, ev: WebhookEvent, *, secret: str = SECRET, ttl: timedelta | None = None
) -> Any:
    body = webhook_body(ev)
    auth = sign_webhook(body, KEY, secret, ttl=ttl or timedelta(minutes=5))
    return client.post(
        "/livekit/webhook",
        content=body,
        headers={"Authorization": auth, "Content-Type": "application/webhook+json"},
    )


def events_of(engine: Engine, call_id: str) -> list[CallEvent]:
    with Session(engine) as s:
        return list(s.exec(select(CallEvent).where(CallEvent.call_id == call_id)).all())


def test_call_lifecycle_is_recorded_from_signed_events(
    client: TestClient, sqlite_engine: Engine, enqueued: list[str]
) -> None:
    r = post(client, event("room_started", "EV_1"))
    assert r.status_code == 200 and r.json() == {"status": "recorded", "call_id": "call-42"}
    r = post(client, event("participant_joined", "EV_2", participant=sip_caller()))
    assert r.status_code == 200
    with Session(sqlite_engine) as s:
        call = s.exec(select(Call).where(Call.room_name == "call-42")).one()
        assert call.status == "active" and call.answered_at is not None
        assert (call.caller_number, call.dialed_number) == ("+15551230000", "+18005550100")
    post(client, event("participant_left", "EV_3", participant=sip_caller()))
    ev = event("room_finished", "EV_4")
    ev.room_end_reason = lk.ROOM_END_API_DELETE
    assert post(client, ev).status_code == 200
    with Session(sqlite_engine) as s:
        call = s.exec(select(Call).where(Call.room_name == "call-42")).one()
        assert call.status == "ended" and call.ended_at is not None
        assert call.end_reason == "caller_hangup"
    types = [e.type for e in sorted(events_of(sqlite_engine, "call-42"), key=lambda e: e.seq)]
    assert types == [
        "livekit.room_started",
        "livekit.participant_joined",
        "livekit.participant_left",
        "livekit.room_finished",
    ]
    assert enqueued == ["call-42"]


def test_room_finished_alone_still_closes_the_call(
    client: TestClient, sqlite_engine: Engine, enqueued: list[str]
) -> None:
    ev = event("room_finished", "EV_9", room="call-7")
    ev.room_end_reason = lk.ROOM_END_IDLE_TIMEOUT
    assert post(client, ev).status_code == 200
    with Session(sqlite_engine) as s:
        call = s.exec(select(Call).where(Call.room_name == "call-7")).one()
    assert call.status == "ended" and call.end_reason == "room_end_idle_timeout"
    assert enqueued == ["call-7"]


def test_replayed_event_is_recorded_once(client: TestClient, sqlite_engine: Engine) -> None:
    ev = event("participant_joined", "EV_R", participant=sip_caller())
    assert post(client, ev).json()["status"] == "recorded"
    assert post(client, ev).json()["status"] == "duplicate"
    assert post(client, ev).json()["status"] == "duplicate"
    assert len(events_of(sqlite_engine, "call-42")) == 1


def test_tampered_body_is_rejected_with_problem_details(
    client: TestClient, sqlite_engine: Engine
) -> None:
    body = webhook_body(event("room_finished", "EV_T"))
    auth = sign_webhook(body, KEY, SECRET)
    tampered = body.replace("call-42", "call-43")
    r = client.post("/livekit/webhook", content=tampered, headers={"Authorization": auth})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Invalid webhook signature"
    assert "altered" in r.json()["detail"]
    with Session(sqlite_engine) as s:
        assert s.exec(select(Call)).all() == []


def test_expired_signature_is_rejected(client: TestClient) -> None:
    r = post(client, event("room_started", "EV_E"), ttl=timedelta(seconds=-120))
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


def test_wrong_secret_and_missing_signature_are_rejected(client: TestClient) -> None:
    r = post(client, event("room_started", "EV_W"), secret="another-secret-0123456789-abcdefg")
    assert r.status_code == 401
    assert "LIVEKIT_API_KEY" in r.json()["detail"]
    r2 = client.post("/livekit/webhook", content=webhook_body(event("room_started", "EV_M")))
    assert r2.status_code == 401 and r2.json()["title"] == "Missing webhook signature"


def test_rooms_that_are_not_calls_are_ignored(client: TestClient, sqlite_engine: Engine) -> None:
    r = post(client, event("room_started", "EV_X", room="supervisor-lounge"))
    assert r.json() == {"status": "ignored", "call_id": None}
    with Session(sqlite_engine) as s:
        assert s.exec(select(Call)).all() == []


def test_events_attach_to_the_call_row_the_worker_created(
    client: TestClient, sqlite_engine: Engine
) -> None:
    with Session(sqlite_engine) as s:
        s.add(Call(id="abc123", room_name="call-42", status="active", worker_id="w-1"))
        s.commit()
    r = post(client, event("room_finished", "EV_F"))
    assert r.json()["call_id"] == "abc123"
    with Session(sqlite_engine) as s:
        call = s.get(Call, "abc123")
        assert call is not None and call.status == "ended" and call.worker_id == "w-1"


def test_unconfigured_keys_give_a_clear_503(sqlite_engine: Engine) -> None:
    app = create_app(load_settings(), engine=sqlite_engine, enqueue_postcall=lambda _c: None)
    r = TestClient(app).post("/livekit/webhook", content=b"{}", headers={"Authorization": "x"})
    assert r.status_code == 503 and "LIVEKIT_API_SECRET" in r.json()["detail"]
