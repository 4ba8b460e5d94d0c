"""The durable outbox: post-call work is recorded in SQL before a message goes to the broker.

Redis in this deployment keeps nothing on disk, so a Redis restart drops queued messages.
The outbox row survives; a sweeper in every worker re-sends rows that are not done some
time after their last send. Re-sends may duplicate a message: tasks are idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from callcenter.models import Call, PostcallJob, PostcallStatus, WebhookDelivery, utcnow
from callcenter.postcall.store import upsert

log = logging.getLogger(__name__)

# Webhook retries back off up to this long; the sweeper must not race its own retries.
WEBHOOK_BACKOFF_MAX_S = 300.0


def request(
    engine: Engine, call_id: str, *, countdown_s: float = 0.0, reprocess: bool = False
) -> bool:
    """Record that `call_id` needs processing. False if it is already done (and not reprocess)."""
    now = utcnow()
    with Session(engine) as session, session.begin():
        if session.get(Call, call_id) is None:
            raise LookupError(
                f"no call {call_id!r} in the database: post-call processing needs the call row "
                "(the voice session or the LiveKit webhook creates it)"
            )
        job = session.get(PostcallJob, call_id, with_for_update=True)
        if job is not None and job.status == PostcallStatus.DONE and not reprocess:
            return False
        upsert(
            session,
            PostcallJob,
            {
                "call_id": call_id,
                "status": PostcallStatus.PENDING,
                "attempts": 0,
                "requested_at": now,
                "not_before": now + timedelta(seconds=countdown_s),
                "last_sent_at": None,
                "started_at": None,
                "completed_at": None,
                "last_error": "",
            },
            keys=["call_id"],
            # A repeated request keeps the first request time (hang-up latency is from it).
            update=["status", "not_before", "last_error", "completed_at"],
        )
    return True


def claim_send(engine: Engine, call_id: str, stale_before: datetime | None) -> bool:
    """Atomically stamp `last_sent_at`; False if someone else sent it recently."""
    now = utcnow()
    cond: sa.ColumnElement[bool] = col(PostcallJob.last_sent_at).is_(None)
    if stale_before is not None:
        cond = sa.or_(cond, col(PostcallJob.last_sent_at) < stale_before)
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(PostcallJob)
            .where(col(PostcallJob.call_id) == call_id, cond)
            .values(last_sent_at=now)
        )
    return result.rowcount == 1


def start(engine: Engine, call_id: str) -> bool:
    """Mark a job running (one more attempt). False if it is already done or failed."""
    now = utcnow()
    with Session(engine) as session, session.begin():
        job = session.get(PostcallJob, call_id)
        if job is None:
            # Sent straight to the broker without the outbox (e.g. an old producer).
            session.add(PostcallJob(call_id=call_id, last_sent_at=now))
            session.flush()
            job = session.get(PostcallJob, call_id)
            assert job is not None
        if job.status in (PostcallStatus.DONE, PostcallStatus.FAILED):
            return False
        job.status = PostcallStatus.RUNNING
        job.attempts += 1
        job.started_at = now
        # The stale clock restarts with the attempt (a retry may arrive long after its send).
        if job.last_sent_at is None or _aware(job.last_sent_at) < now:
            job.last_sent_at = now
        session.add(job)
    return True


def note_error(
    engine: Engine, call_id: str, error: str, *, permanent: bool, retry_in_s: float = 0.0
) -> None:
    """Record why an attempt failed; a permanent failure stops further attempts.

    `retry_in_s`: the task's own retry is due then. The row counts as sent at that time,
    so the sweeper re-sends only if the retry never arrives (no second copy meanwhile).
    """
    values: dict[str, object] = {"last_error": error[:1000]}
    if permanent:
        values["status"] = PostcallStatus.FAILED
    if retry_in_s > 0:
        values["last_sent_at"] = utcnow() + timedelta(seconds=retry_in_s)
    with engine.begin() as conn:
        conn.execute(
            sa.update(PostcallJob).where(col(PostcallJob.call_id) == call_id).values(**values)
        )


class Holding:
    """While an attempt runs, keep its row's `last_sent_at` fresh (a lease on the job).

    A long attempt (a slow LLM summary) is then never taken for a lost message and sent a
    second time by the sweeper; if the worker dies the touches stop and the sweeper
    re-sends `stale_after_s` later, as before.
    """

    def __init__(self, engine: Engine, call_id: str, *, every_s: float) -> None:
        self._engine, self._call_id, self._every_s = engine, call_id, max(0.05, every_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="postcall-holding", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                touch_running(self._engine, self._call_id)
            except Exception as exc:  # the database blipped: the next touch may work
                log.warning("postcall %s: could not refresh the job's lease: %s",
                            self._call_id, exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def touch_running(engine: Engine, call_id: str) -> None:
    """Stamp a running job as sent now; never moves the stamp back (a retry's due time)."""
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            sa.update(PostcallJob)
            .where(
                col(PostcallJob.call_id) == call_id,
                col(PostcallJob.status) == PostcallStatus.RUNNING,
                sa.or_(col(PostcallJob.last_sent_at).is_(None),
                       col(PostcallJob.last_sent_at) < now),
            )
            .values(last_sent_at=now)
        )


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def stale_jobs(engine: Engine, stale_after_s: float, limit: int = 200) -> list[str]:
    """Jobs not done whose last send is older than `stale_after_s` (or never sent) and due."""
    now = utcnow()
    cutoff = now - timedelta(seconds=stale_after_s)
    with Session(engine) as session:
        rows = session.exec(
            select(PostcallJob.call_id)
            .where(
                col(PostcallJob.status).in_([PostcallStatus.PENDING, PostcallStatus.RUNNING]),
                col(PostcallJob.not_before) <= now,
                sa.or_(
                    col(PostcallJob.last_sent_at).is_(None),
                    col(PostcallJob.last_sent_at) < cutoff,
                ),
            )
            .limit(limit)
        ).all()
    return list(rows)


def stale_webhooks(engine: Engine, stale_after_s: float, limit: int = 200) -> list[str]:
    """Calls whose webhook is still pending long after its last attempt."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s + WEBHOOK_BACKOFF_MAX_S)
    with Session(engine) as session:
        rows = session.exec(
            select(WebhookDelivery.call_id)
            .where(
                col(WebhookDelivery.status) == "pending", col(WebhookDelivery.updated_at) < cutoff
            )
            .limit(limit)
        ).all()
    return list(rows)


def touch_webhook(engine: Engine, call_id: str, stale_after_s: float) -> bool:
    """Claim a stale pending webhook for re-sending (one sweeper wins)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=stale_after_s + WEBHOOK_BACKOFF_MAX_S)
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(WebhookDelivery)
            .where(
                col(WebhookDelivery.call_id) == call_id,
                col(WebhookDelivery.status) == "pending",
                col(WebhookDelivery.updated_at) < cutoff,
            )
            .values(updated_at=now)
        )
    return result.rowcount >= 1


class Sweeper:
    """Background thread: every `interval_s`, re-send stale jobs and webhooks."""

    def __init__(
        self,
        engine: Engine,
        send_job: Callable[[str], None],
        send_webhook: Callable[[str], None],
        *,
        interval_s: float,
        stale_after_s: float,
    ) -> None:
        self._engine = engine
        self._send_job = send_job
        self._send_webhook = send_webhook
        self.interval_s = interval_s
        self.stale_after_s = stale_after_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="postcall-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def sweep_once(self) -> int:
        """One pass; returns how many messages it sent."""
        sent = 0
        cutoff = utcnow() - timedelta(seconds=self.stale_after_s)
        for call_id in stale_jobs(self._engine, self.stale_after_s):
            if claim_send(self._engine, call_id, cutoff):
                self._send_job(call_id)
                sent += 1
        for call_id in stale_webhooks(self._engine, self.stale_after_s):
            if touch_webhook(self._engine, call_id, self.stale_after_s):
                self._send_webhook(call_id)
                sent += 1
        if sent:
            log.info("postcall sweeper re-sent %d message(s)", sent)
        return sent

    def _run(self) -> None:
        # First pass right away: a restarted worker picks up what a lost broker dropped.
        while True:
            try:
                self.sweep_once()
            except Exception as exc:  # broker or database down: try again next round
                log.warning("postcall sweeper pass failed: %s", exc)
            if self._stop.wait(self.interval_s):
                return
