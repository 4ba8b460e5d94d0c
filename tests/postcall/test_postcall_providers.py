"""The network edges of post-call work: the LLM summary (fake OpenAI server, real SDK) and
the CRM webhook (a real local HTTP receiver), both through the embedded Celery worker."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.models import Call, PostcallJob, WebhookDelivery
from callcenter.postcall import crm, enqueue_process_call, synthetic
from callcenter.postcall.inprocess import EmbeddedWorker
from callcenter.testing.cloud.faults import Fault, FaultKind
from callcenter.testing.cloud.openai_fake import FakeOpenAI, ScriptedReply

KEY = "sk-test-postcall-0123456789abcdef"


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """The fake server on its own event loop thread (the tasks run synchronously)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeOpenAI(KEY)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


class Receiver:
    """A CRM endpoint: records requests; answers `statuses` in turn, then 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                code = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/calls"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def run_one(engine: Engine, settings: Any, call_id: str, done: Callable[[], bool]) -> None:
    worker = EmbeddedWorker(settings, retry_base_s=0.02)
    worker.start()
    try:
        enqueue_process_call(call_id, settings=settings, engine=engine)
        wait_for(done)
    finally:
        worker.stop()


def job(engine: Engine, call_id: str) -> PostcallJob:
    with Session(engine) as session:
        row = session.get(PostcallJob, call_id)
        assert row is not None
        return row


def delivery(engine: Engine, call_id: str) -> WebhookDelivery | None:
    with Session(engine) as session:
        return session.exec(
            select(WebhookDelivery).where(WebhookDelivery.call_id == call_id)
        ).first()


def test_llm_summary_sees_only_the_redacted_transcript(
    migrated_sqlite: tuple[str, Engine], make_settings: Any, fake_openai: FakeOpenAI
) -> None:
    url, engine = migrated_sqlite
    settings = make_settings(database_url=url, openai_api_key=KEY, openai_base_url=fake_openai.url)
    rng = random.Random(4)
    call_id = synthetic.create_call(engine, rng, outcome="resolved")
    answer = {"summary": "Caller's internet dropped; agent credited the account.",
              "disposition": "abandoned"}  # fmt: skip
    fake_openai.script.append(ScriptedReply(text=json.dumps(answer)))
    run_one(engine, settings, call_id, lambda: job(engine, call_id).status == "done")
    with Session(engine) as session:
        call = session.get(Call, call_id)
    assert call is not None and call.summary == answer["summary"]
    # No fact fixed this call's outcome, so the LLM's view is taken.
    assert call.disposition == "abandoned"
    assert call.metrics["postcall"]["summary_source"] == "llm"
    prompt = json.dumps(fake_openai.last_request["messages"])
    assert "[PHONE]" in prompt and "four one five" not in prompt
    # The LLM writes from the call's facts; the transcript is background.
    assert "Facts:" in prompt and "Outcome: Resolved by the AI agent" in prompt


def test_llm_outage_retries_with_backoff_then_falls_back_offline(
    migrated_sqlite: tuple[str, Engine], make_settings: Any, fake_openai: FakeOpenAI
) -> None:
    url, engine = migrated_sqlite
    settings = make_settings(database_url=url, openai_api_key=KEY, openai_base_url=fake_openai.url)
    call_id = synthetic.create_call(engine, random.Random(6), outcome="escalated")
    fake_openai.inject(Fault(FaultKind.STATUS, status=503, times=-1))
    run_one(engine, settings, call_id, lambda: job(engine, call_id).status == "done")
    with Session(engine) as session:
        call = session.get(Call, call_id)
    assert call is not None and call.disposition == "resolved_by_supervisor"
    assert call.metrics["postcall"]["summary_source"].startswith("offline (LLM failed")
    assert call.summary and "Outcome: Resolved by a supervisor" in call.summary
    assert fake_openai.requests == 7  # first try + 6 retries
    assert job(engine, call_id).attempts == 7


def test_crm_webhook_is_signed_and_retried_until_delivered(
    migrated_sqlite: tuple[str, Engine], make_settings: Any, receiver: Receiver
) -> None:
    url, engine = migrated_sqlite
    secret = "crm-shared-secret"
    settings = make_settings(database_url=url, crm_webhook_url=receiver.url,
                             crm_webhook_secret=secret)  # fmt: skip
    call_id = synthetic.create_call(engine, random.Random(8), outcome="resolved")
    receiver.statuses = [503, 502]
    run_one(
        engine, settings, call_id, lambda: (delivery(engine, call_id) or _n()).status != "pending"
    )
    row = delivery(engine, call_id)
    assert row is not None and row.status == "delivered" and row.attempts == 3
    headers, body = receiver.requests[-1]
    assert crm.verify(secret, headers[crm.TIMESTAMP_HEADER], body, headers[crm.SIGNATURE_HEADER])
    assert not crm.verify(
        "wrong", headers[crm.TIMESTAMP_HEADER], body, headers[crm.SIGNATURE_HEADER]
    )
    sent = json.loads(body)
    assert sent["call_id"] == call_id and sent["disposition"] == "resolved"
    assert headers["Idempotency-Key"] == call_id
    assert "four one" not in body.decode()  # only the redacted transcript leaves


def test_crm_webhook_that_keeps_failing_is_dead_lettered(
    migrated_sqlite: tuple[str, Engine], make_settings: Any, receiver: Receiver
) -> None:
    url, engine = migrated_sqlite
    settings = make_settings(database_url=url, crm_webhook_url=receiver.url)
    call_id = synthetic.create_call(engine, random.Random(9))
    receiver.statuses = [500] * 10
    run_one(engine, settings, call_id, lambda: (delivery(engine, call_id) or _n()).status == "dead")
    row = delivery(engine, call_id)
    assert row is not None and row.attempts == 6 and row.response_status == 500
    assert row.last_error.startswith("HTTP 500")
    # A 4xx is the receiver refusing this payload: dead at once, no retries.
    other = synthetic.create_call(engine, random.Random(10))
    receiver.statuses = [400]
    run_one(engine, settings, other, lambda: (delivery(engine, other) or _n()).status == "dead")
    dead = delivery(engine, other)
    assert dead is not None and dead.attempts == 1


class _n:  # stand-in while the delivery row does not exist yet
    status = "pending"
