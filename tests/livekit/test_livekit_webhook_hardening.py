"""The webhook endpoint under abuse and load: huge bodies, bursts, odd but signed events."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from livekit.protocol.webhook import WebhookEvent
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from admin.app import create_app
from admin.routes.livekit_webhook import MAX_BODY_BYTES
from callcenter.config import load_settings
from callcenter.models import Call, CallEvent
from callcenter.records.livekit_webhooks import record_event
from tests.livekit.test_livekit_webhook import KEY, SECRET, event, post, sip_caller


@pytest.fixture
def app(sqlite_engine: Engine) -> Any:
    settings = load_settings(livekit_api_key=KEY, livekit_api_secret=SECRET)
    return create_app(settings, engine=sqlite_engine, enqueue_postcall=lambda _c: None)


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app)


async def _post_raw(app: Any, headers: dict[str, str], chunks: int, size: int) -> tuple[int, int]:
    """POST `chunks` x `size` bytes straight into the ASGI app; (status, chunks it pulled)."""
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= chunks:
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": b"x" * size, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/livekit/webhook", "raw_path": b"/livekit/webhook",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    return status, pulled


def test_declared_huge_body_is_refused_before_a_byte_is_read(app: Any) -> None:
    headers = {"Authorization": "anything", "Content-Length": str(200 << 20)}
    status, pulled = asyncio.run(_post_raw(app, headers, chunks=200, size=1 << 20))
    assert status == 413 and pulled == 0


def test_undeclared_huge_body_is_refused_after_the_limit_not_after_200_mb(app: Any) -> None:
    started = time.perf_counter()
    status, pulled = asyncio.run(_post_raw(app, {"Authorization": "x"}, chunks=200,
                                           size=256 << 10))
    assert status == 413
    assert pulled * (256 << 10) <= MAX_BODY_BYTES + (256 << 10)
    assert time.perf_counter() - started < 2.0


def test_body_under_the_limit_still_reaches_the_signature_check(client: TestClient) -> None:
    r = client.post("/livekit/webhook", content=b"{}", headers={"Authorization": "bogus"})
    assert r.status_code == 401


@pytest.mark.parametrize("created_at", [10**12, 2**62, -5, 253402300800])
def test_signed_event_with_an_absurd_time_gets_a_problem_not_a_500(
    client: TestClient, sqlite_engine: Engine, created_at: int
) -> None:
    ev = event("room_started", "EV_T")
    ev.created_at = created_at
    r = post(client, ev)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "created_at" in r.json()["detail"]
    with Session(sqlite_engine) as s:
        assert s.exec(select(Call)).first() is None


def test_absurd_room_creation_time_is_refused_too(client: TestClient) -> None:
    ev = event("room_started", "EV_R")
    ev.room.creation_time = 10**15
    r = post(client, ev)
    assert r.status_code == 422 and "creation_time" in r.json()["detail"]


def test_signed_event_without_an_id_is_stored_once(
    client: TestClient, sqlite_engine: Engine
) -> None:
    ev = event("participant_joined", "", participant=sip_caller())
    assert post(client, ev).json()["status"] == "recorded"
    assert post(client, ev).json()["status"] == "duplicate"
    other = event("participant_left", "", participant=sip_caller())
    assert post(client, other).json()["status"] == "recorded"
    with Session(sqlite_engine) as s:
        kinds = [e.type for e in s.exec(select(CallEvent)).all()]
    assert sorted(kinds) == ["livekit.participant_joined", "livekit.participant_left"]


def _burst(engine: Engine, n: int) -> list[str]:
    """n distinct events for one new room, all recorded at the same moment from n threads."""
    events: list[WebhookEvent] = [event("track_published", f"EV_{i:02d}", room="call-burst")
                                  for i in range(n)]
    gate = threading.Barrier(n)

    def one(ev: WebhookEvent) -> str:
        gate.wait()
        return record_event(engine, ev).status

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, events))


def _assert_all_stored_once(engine: Engine, n: int) -> None:
    with Session(engine) as s:
        rows = s.exec(select(CallEvent).where(CallEvent.call_id == "call-burst")).all()
    assert sorted(r.data["webhook_id"] for r in rows) == [f"EV_{i:02d}" for i in range(n)]
    assert sorted(r.seq for r in rows) == list(range(1, n + 1))


@pytest.mark.postgres
def test_twenty_concurrent_events_for_one_room_are_all_stored_once_on_postgresql(
    pg_engine: Engine,
) -> None:
    assert _burst(pg_engine, 20) == ["recorded"] * 20
    _assert_all_stored_once(pg_engine, 20)


def test_twenty_concurrent_events_for_one_room_are_all_stored_once_on_sqlite(
    sqlite_engine: Engine,
) -> None:
    assert _burst(sqlite_engine, 20) == ["recorded"] * 20
    _assert_all_stored_once(sqlite_engine, 20)
