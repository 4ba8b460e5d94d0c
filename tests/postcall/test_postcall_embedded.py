"""The embedded default: real Celery tasks run by the in-process worker, no Redis."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from callcenter.models import Call, CallTranscript, PostcallJob
from callcenter.postcall import enqueue_process_call, synthetic
from callcenter.postcall.inprocess import EmbeddedWorker, stop_embedded


@pytest.fixture(autouse=True)
def _stop_embedded() -> Iterator[None]:
    yield
    stop_embedded()


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def job_status(engine: Engine, call_id: str) -> str | None:
    with Session(engine) as session:
        job = session.get(PostcallJob, call_id)
        return job.status if job else None


def test_enqueue_without_redis_runs_the_celery_task_in_process(
    migrated_sqlite: tuple[str, Engine], make_settings: Any
) -> None:
    url, engine = migrated_sqlite
    settings = make_settings(database_url=url)
    call_id = synthetic.create_call(engine, random.Random(1), outcome="escalated")

    assert enqueue_process_call(call_id, settings=settings, engine=engine)
    wait_for(lambda: job_status(engine, call_id) == "done")

    with Session(engine) as session:
        call = session.get(Call, call_id)
        transcript = session.get(CallTranscript, call_id)
    assert call is not None and call.processed_at is not None
    assert call.disposition == "resolved_by_supervisor"
    assert call.summary and "Escalated to billing" in call.summary
    assert transcript is not None and transcript.redacted_text.startswith("[00:00] Agent:")
    # Raw transcript is not kept unless KEEP_RAW_TRANSCRIPT allows it.
    assert transcript.text is None and transcript.data is None


def test_processing_twice_gives_one_record(
    migrated_sqlite: tuple[str, Engine], make_settings: Any
) -> None:
    url, engine = migrated_sqlite
    settings = make_settings(database_url=url, keep_raw_transcript=True)
    call_id = synthetic.create_call(engine, random.Random(2), outcome="resolved")
    worker = EmbeddedWorker(settings)
    worker.start()
    try:
        # Two deliveries of the same message, as a redelivery after a crash would produce.
        enqueue_process_call(call_id, settings=settings, engine=engine)
        worker.send_job(call_id)
        worker.send_job(call_id, reprocess=True)
        wait_for(lambda: job_status(engine, call_id) == "done")
        time.sleep(0.5)
    finally:
        worker.stop()
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(CallTranscript)).one()
        job = session.get(PostcallJob, call_id)
        transcript = session.get(CallTranscript, call_id)
    assert count == 1
    assert job is not None and job.attempts >= 1
    assert transcript is not None and transcript.text and "[CARD]" not in (transcript.text or "x")
    # Enqueueing a processed call again is a no-op unless reprocess is asked for.
    assert not enqueue_process_call(call_id, settings=settings, engine=engine)


def test_sweeper_resends_a_job_the_broker_never_delivered(
    migrated_sqlite: tuple[str, Engine], make_settings: Any
) -> None:
    from callcenter.postcall import outbox

    url, engine = migrated_sqlite
    settings = make_settings(
        database_url=url, postcall_sweep_interval_s=0.2, postcall_stale_after_s=0.5
    )
    call_id = synthetic.create_call(engine, random.Random(3))
    # Recorded in the outbox, but the message is lost (never sent) - like a Redis restart.
    assert outbox.request(engine, call_id)
    assert outbox.claim_send(engine, call_id, None)
    worker = EmbeddedWorker(settings)
    worker.start()
    try:
        wait_for(lambda: job_status(engine, call_id) == "done", timeout=15)
    finally:
        worker.stop()


def test_unknown_call_is_a_clear_error(
    migrated_sqlite: tuple[str, Engine], make_settings: Any
) -> None:
    url, engine = migrated_sqlite
    with pytest.raises(LookupError, match="no call 'nope'"):
        enqueue_process_call("nope", settings=make_settings(database_url=url), engine=engine)
