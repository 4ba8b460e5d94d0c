"""Celery tasks: `process_call` (the record) and `deliver_webhook` (the CRM), keyed by call id.

Arguments are ids, never objects. Transient failures (database unreachable, a provider
error the provider marks retryable, a webhook 5xx) retry with exponential backoff and
jitter; permanent ones are recorded on the outbox row and stop.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from sqlalchemy.exc import OperationalError

from callcenter.db import engine_for
from callcenter.learning import task as learning_task
from callcenter.models import utcnow
from callcenter.postcall import crm, outbox, pipeline
from callcenter.postcall.app import DELIVER_WEBHOOK, PROCESS_CALL, PostcallCelery
from callcenter.postcall.store import store_record
from callcenter.speech import SpeechError
from callcenter.speech.factory import openai_llm

log = logging.getLogger(__name__)

PROCESS_MAX_RETRIES = 6
WEBHOOK_MAX_RETRIES = 5
_TRANSIENT = (OperationalError, SoftTimeLimitExceeded)


def backoff(app: PostcallCelery, retries: int) -> float:
    """Exponential backoff with full jitter: many failing calls must not retry in lockstep."""
    ceiling = min(app.retry_max_s, app.retry_base_s * (2**retries))
    return random.uniform(ceiling / 2, ceiling)


def process(app: PostcallCelery, task: Any, call_id: str, reprocess: bool = False) -> str:
    """Body of `process_call`; returns what happened (done | skipped | failed)."""
    settings = app.settings
    engine = engine_for(settings.effective_database_url)
    data = pipeline.load(engine, call_id)
    if data is None:
        log.error("postcall: no call %s in the database; nothing to process", call_id)
        return "failed"
    if not outbox.start(engine, call_id):
        return "skipped"
    # While this attempt runs the sweeper must not send a second copy of the job.
    held = outbox.Holding(engine, call_id, every_s=app.settings.postcall_stale_after_s / 3)
    note = ""
    try:
        try:
            # Summaries use OpenAI whenever its key is set, even if calls run offline.
            record, source = pipeline.build_record(data, settings, llm=openai_llm(settings))
        except SpeechError as exc:
            if exc.retryable and not exc.permanent and task.request.retries < task.max_retries:
                raise _retry(app, task, engine, call_id, exc, str(exc)) from None
            # Out of retries, or an error no retry can fix (a rejected key, an unknown
            # model): the offline summary still gives the call a complete record.
            log.warning("postcall %s: LLM failed (%s); offline summary", call_id, exc)
            record, source = pipeline.build_record(data, settings, llm=None)
            why = "not retried" if exc.permanent else "out of retries"
            note = f"LLM summary failed ({why}): {exc}"
            record.metrics["summary_source"] = f"offline (LLM failed: {exc})"[:300]
        store_record(
            engine,
            record,
            now=utcnow(),
            webhook_url=settings.crm_webhook_url,
            redeliver_webhook=reprocess,
            note=note,
        )
    except _TRANSIENT as exc:
        raise _retry(app, task, engine, call_id, exc, f"{type(exc).__name__}: {exc}") from None
    except (ValueError, LookupError) as exc:
        # Bad stored data: retrying reads the same rows. Visible on the outbox row.
        log.error("postcall %s failed permanently: %s", call_id, exc)
        outbox.note_error(engine, call_id, f"{type(exc).__name__}: {exc}", permanent=True)
        return "failed"
    finally:
        held.stop()
    log.info("postcall %s stored (%s, summary %s)", call_id, record.disposition, source)
    if learning_task.wanted(data.escalations, data.events):
        learning_task.send(app, call_id)  # what the people who took the call can teach
    if settings.crm_webhook_url:
        send_webhook(app, call_id)
    return "done"


def _retry(app: PostcallCelery, task: Any, engine: Any, call_id: str, exc: Exception,
           error: str) -> Exception:
    """The task's retry, with the outbox row told when it is due (so the sweeper waits
    for it instead of sending a second copy)."""
    countdown = backoff(app, task.request.retries)
    outbox.note_error(engine, call_id, error, permanent=False, retry_in_s=countdown)
    retry: Exception = task.retry(exc=exc, countdown=countdown)
    return retry


def send_webhook(app: PostcallCelery, call_id: str) -> None:
    """Queue the CRM delivery; if the broker is down the sweeper sends it later."""
    try:
        app.send_task(DELIVER_WEBHOOK, args=[call_id])
    except Exception as exc:
        log.warning("postcall %s: could not queue webhook (%s); sweeper will", call_id, exc)


def deliver(app: PostcallCelery, task: Any, call_id: str) -> str:
    """Body of `deliver_webhook`."""
    settings = app.settings
    if not settings.crm_webhook_url:
        return "skipped"
    secret = settings.crm_webhook_secret.get_secret_value() if settings.crm_webhook_secret else None
    try:
        outcome = crm.deliver(
            engine_for(settings.effective_database_url),
            call_id,
            settings.crm_webhook_url,
            secret,
            final_attempt=task.request.retries >= task.max_retries,
        )
    except crm.WebhookRetry as exc:
        raise task.retry(exc=exc, countdown=backoff(app, task.request.retries)) from None
    if outcome.status == "dead":
        log.error("postcall %s: CRM webhook dead-lettered: %s", call_id, outcome.detail)
    return outcome.status


def register(app: PostcallCelery) -> None:
    """Attach the tasks to `app` (each app instance gets its own task objects)."""

    @app.task(  # type: ignore[untyped-decorator]
        name=PROCESS_CALL,
        shared=False,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=PROCESS_MAX_RETRIES,
    )
    def process_call(self: Any, call_id: str, reprocess: bool = False) -> str:
        # `app` from the closure: Celery may hand tasks a default app as `self.app`.
        return process(app, self, call_id, reprocess)

    @app.task(  # type: ignore[untyped-decorator]
        name=DELIVER_WEBHOOK,
        shared=False,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=WEBHOOK_MAX_RETRIES,
    )
    def deliver_webhook(self: Any, call_id: str) -> str:
        return deliver(app, self, call_id)

    learning_task.register(app)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _fresh_connections_after_fork(**_: Any) -> None:
    # Prefork children inherit the parent's pooled sockets; sharing them corrupts both.
    for engine in list(_engines()):
        engine.dispose(close=False)


def _engines() -> list[Any]:
    from callcenter.config import get_settings

    try:
        return [engine_for(get_settings().effective_database_url)]
    except Exception:
        return []
