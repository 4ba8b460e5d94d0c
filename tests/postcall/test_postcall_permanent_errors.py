"""Provider errors no retry can fix (401, 403, 404) are not retried, and the outbox sweeper
never sends a second copy of a job that is waiting for its retry or still running.

At the wire: the fake OpenAI server with the real SDK, a real local CRM receiver, the
embedded Celery worker (a real WorkController) with its sweeper running fast.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.models import Call
from callcenter.postcall import enqueue_process_call, synthetic
from callcenter.postcall.inprocess import EmbeddedWorker
from callcenter.testing.cloud.faults import Fault, FaultKind
from callcenter.testing.cloud.openai_fake import FakeOpenAI, ScriptedReply
from tests.postcall.test_postcall_providers import (
    KEY,
    Receiver,
    delivery,
    fake_openai,
    job,
    receiver,
    wait_for,
)

__all__ = ["fake_openai", "receiver"]  # fixtures, shared with the provider tests


def _run(engine: Engine, settings: Any, call_id: str, done: Callable[[], bool], *,
         retry_base_s: float = 0.02) -> list[str]:
    """Process one call on the embedded worker; returns the job ids its sweeper re-sent."""
    worker = EmbeddedWorker(settings, retry_base_s=retry_base_s)
    swept: list[str] = []
    send = worker.send_job

    def counted(call: str, reprocess: bool = False) -> None:
        if threading.current_thread().name == "postcall-sweeper":
            swept.append(call)
        send(call, reprocess)

    # The sweeper and enqueue (through the process's embedded worker: this one) both send
    # with the instance's send_job; only the sweeper's thread is counted.
    worker.send_job = counted  # type: ignore[method-assign]
    worker.start()
    try:
        enqueue_process_call(call_id, settings=settings, engine=engine)
        wait_for(done)
    finally:
        worker.stop()
    return swept


@pytest.mark.parametrize("status", [401, 403, 404])
def test_llm_error_that_cannot_heal_is_sent_once_and_the_call_still_gets_its_record(
    migrated_sqlite: tuple[str, Engine], make_settings: Any, fake_openai: FakeOpenAI,
    status: int,
) -> None:
    url, engine = migrated_sqlite
    settings = make_settings(database_url=url, openai_api_key=KEY, openai_base_url=fake_openai.url)
    call_id = synthetic.create_call(engine, random.Random(status), outcome="resolved")
    fake_openai.inject(Fault(FaultKind.STATUS, status=status, times=-1))
    _run(engine, settings, call_id, lambda: job(engine, call_id).status == "done")
    assert fake_openai.requests == 1, "a permanent provider error was retried"
    row = job(engine, call_id)
    assert row.attempts == 1
    # The outbox row says why the LLM was not used, and that it was not retried.
    assert f"HTTP {status}" in row.last_error and "not retried" in row.last_error
    assert KEY not in row.last_error
    with Session(engine) as session:
        call = session.get(Call, call_id)
    assert call is not None and call.processed_at is not None
    assert call.summary and "Outcome: Resolved by the AI agent" in call.summary
    assert call.metrics["postcall"]["summary_source"].startswith("offline (LLM failed")


def test_sweeper_sends_no_second_copy_while_a_retry_is_due(
    migrated_sqlite: tuple[str, Engine], make_settings: Any, fake_openai: FakeOpenAI
) -> None:
    url, engine = migrated_sqlite
    # Stale after 1 s, swept every 20 ms; the retries wait 1.5-3 s and 3-6 s: longer than
    # "stale", so a sweeper that ignored a retry's due time would re-send during each.
    settings = make_settings(database_url=url, openai_api_key=KEY, openai_base_url=fake_openai.url,
                             postcall_stale_after_s=1.0, postcall_sweep_interval_s=0.02)
    call_id = synthetic.create_call(engine, random.Random(21), outcome="resolved")
    fake_openai.inject(Fault(FaultKind.STATUS, status=503, times=2))
    fake_openai.script.append(ScriptedReply(text='{"summary": "Order checked.", '
                                                 '"disposition": "resolved"}'))
    swept = _run(engine, settings, call_id, lambda: job(engine, call_id).status == "done",
                 retry_base_s=3.0)
    assert swept == []
    assert fake_openai.requests == 3  # the first try and two retries, nothing more
    assert job(engine, call_id).attempts == 3


def test_sweeper_sends_no_second_copy_while_the_job_runs(
    migrated_sqlite: tuple[str, Engine], make_settings: Any
) -> None:
    import asyncio

    url, engine = migrated_sqlite
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    # A slow summary: about 1.5 s of streaming, five times the stale age.
    slow = FakeOpenAI(KEY, chunk_delay=0.1)
    asyncio.run_coroutine_threadsafe(slow.start(), loop).result(10)
    try:
        settings = make_settings(database_url=url, openai_api_key=KEY, openai_base_url=slow.url,
                                 postcall_stale_after_s=0.3, postcall_sweep_interval_s=0.02)
        call_id = synthetic.create_call(engine, random.Random(22), outcome="resolved")
        words = " ".join(["word"] * 12)
        slow.script.append(ScriptedReply(text=f'{{"summary": "{words}", '
                                              '"disposition": "resolved"}'))
        swept = _run(engine, settings, call_id, lambda: job(engine, call_id).status == "done")
        assert swept == [] and slow.requests == 1
        assert job(engine, call_id).attempts == 1
    finally:
        asyncio.run_coroutine_threadsafe(slow.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_crm_webhook_refused_for_good_is_dead_at_once_with_the_reason(
    migrated_sqlite: tuple[str, Engine], make_settings: Any, receiver: Receiver, status: int
) -> None:
    url, engine = migrated_sqlite
    settings = make_settings(database_url=url, crm_webhook_url=receiver.url)
    call_id = synthetic.create_call(engine, random.Random(30 + status))
    receiver.statuses = [status] * 5

    def dead() -> bool:
        row = delivery(engine, call_id)
        return row is not None and row.status == "dead"

    _run(engine, settings, call_id, dead)
    row = delivery(engine, call_id)
    assert row is not None and row.attempts == 1 and len(receiver.requests) == 1
    assert row.response_status == status and row.last_error.startswith(f"HTTP {status}")
