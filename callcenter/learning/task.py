"""The post-call learning step as a Celery task: `learn_from_call(call_id)`, after the record.

Queued by `process_call` once the redacted transcript is stored, only for calls a person took
or that were transferred. Idempotent (suggestions are upserted by their unique key), so a
redelivered or re-run task changes nothing. With an OpenAI key set (as for summaries), answers
are then worded by the LLM; an LLM failure leaves the rule-built text and is not retried.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import OperationalError

from callcenter.db import engine_for
from callcenter.learning.analyse import needs_learning
from callcenter.learning.embed import minilm
from callcenter.learning.store import learn_from_call
from callcenter.learning.wording import from_settings
from callcenter.models import CallEvent, Escalation

log = logging.getLogger(__name__)

LEARN_FROM_CALL = "callcenter.postcall.learn_from_call"
MAX_RETRIES = 4


def wanted(escalations: list[Escalation], events: list[CallEvent]) -> bool:
    """Should this call be learned from (a person took it, or it was transferred)?"""
    return needs_learning(escalations, events)


def send(app: Any, call_id: str) -> None:
    """Queue the learning step; a broker hiccup only loses a suggestion, never the record."""
    try:
        app.send_task(LEARN_FROM_CALL, args=[call_id])
    except Exception as exc:
        log.warning("learning %s: could not queue (%s)", call_id, exc)


def register(app: Any) -> None:
    """Attach the task to `app` (the post-call Celery app)."""

    @app.task(  # type: ignore[untyped-decorator]
        name=LEARN_FROM_CALL, shared=False, bind=True, acks_late=True,
        reject_on_worker_lost=True, max_retries=MAX_RETRIES)
    def learn(self: Any, call_id: str) -> int:
        engine = engine_for(app.settings.effective_database_url)
        try:
            return len(learn_from_call(engine, call_id, minilm(), from_settings(app.settings)))
        except (OperationalError, LookupError) as exc:
            # The database blinked, or the transcript is not stored yet: try again later.
            raise self.retry(exc=exc, countdown=2 * (2 ** self.request.retries)) from None
