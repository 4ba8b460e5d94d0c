"""Post-call processing: transcript, redaction, summary, disposition, sentiment, metrics, CRM.

Entry point for the rest of the platform: `enqueue_process_call(call_id)`. It records the
request in the SQL outbox, then sends the Celery task: to Redis when `REDIS_URL` is set
(a separate `callcenter postcall worker` consumes it), else to the embedded worker thread.
Safe to call more than once for a call.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy.engine import Engine

from callcenter.config import Settings, get_settings
from callcenter.db import engine_for

log = logging.getLogger(__name__)

__all__ = ["enqueue_process_call"]


@lru_cache(maxsize=4)
def _producer(broker_url: str) -> object:
    # Producers only send by task name: no task code is needed in the voice process.
    from callcenter.postcall.app import create_app

    return create_app(get_settings(), broker_url=broker_url, register_tasks=False)


def enqueue_process_call(
    call_id: str,
    *,
    countdown_s: float = 0.0,
    reprocess: bool = False,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> bool:
    """Ask for `call_id` to be processed. Returns False when it already was (and not
    `reprocess`). `countdown_s` delays it (the LiveKit webhook path gives the voice side
    time to flush its transcript first)."""
    from callcenter.postcall import outbox
    from callcenter.postcall.app import PROCESS_CALL, PostcallCelery

    settings = settings or get_settings()
    engine = engine or engine_for(settings.effective_database_url)
    if not outbox.request(engine, call_id, countdown_s=countdown_s, reprocess=reprocess):
        return False
    if countdown_s > 0:
        return True  # the sweeper sends it when due
    if not outbox.claim_send(engine, call_id, None):
        return True  # already on its way
    try:
        if settings.redis_url:
            app = _producer(settings.redis_url)
            assert isinstance(app, PostcallCelery)
            app.send_task(PROCESS_CALL, args=[call_id], kwargs={"reprocess": reprocess})
        else:
            from callcenter.postcall.inprocess import ensure_started

            ensure_started(settings).send_job(call_id, reprocess)
    except Exception as exc:
        # The outbox row stays pending: a worker's sweeper sends it once the broker is back.
        log.warning("post-call for %s queued in the outbox only (broker: %s)", call_id, exc)
    return True
