"""Queue metrics from tickets: wait percentiles, abandonment and service level, per queue.

`queue_figures(db, since=...)` is the one to call for a dashboard: the figures per queue
from the escalations table (the durable record every worker writes), no broker needed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from callcenter.escalation.queues import QueueDirectory
from callcenter.escalation.tickets import Ticket, TicketState
from callcenter.models import Escalation, EscalationStatus

S = TicketState


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """One queue's figures over the tickets given.

    Waits are of answered calls (enqueue -> a supervisor has it). Rates are over calls that
    left the queue (answered, abandoned or timed out); calls still waiting count in neither.
    """

    queue: str
    answered: int
    abandoned: int
    timed_out: int
    waiting: int
    wait_p50_s: float | None
    wait_p95_s: float | None
    abandon_wait_p50_s: float | None  # how long callers held before hanging up
    abandonment_rate: float | None
    service_level: float | None  # answered within the queue's service_level_s
    service_level_s: float


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), None for no values."""
    if not values:
        return None
    xs = sorted(values)
    rank = (len(xs) - 1) * q / 100.0
    lo = int(rank)
    hi = min(lo + 1, len(xs) - 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (rank - lo), 3)


def queue_metrics(
    tickets: Iterable[Ticket], queues: QueueDirectory | None = None
) -> dict[str, QueueMetrics]:
    """Figures per queue name, from any mix of live and finished tickets."""
    queues = queues or QueueDirectory()
    by_queue: defaultdict[str, list[Ticket]] = defaultdict(list)
    for t in tickets:
        by_queue[t.queue].append(t)
    return {name: _one(name, ts, queues.get(name).service_level_s)
            for name, ts in sorted(by_queue.items())}


def _one(name: str, tickets: list[Ticket], sl_s: float) -> QueueMetrics:
    answered = [t for t in tickets if t.answered_at is not None]
    abandoned = [t for t in tickets if t.state is S.ABANDONED]
    timed_out = [t for t in tickets if t.state is S.TIMED_OUT]
    waits = [w for t in answered if (w := t.wait_s()) is not None]
    gave_up = [w for t in abandoned if (w := t.wait_s()) is not None]
    left = len(answered) + len(abandoned) + len(timed_out)
    within = sum(1 for w in waits if w <= sl_s)
    return QueueMetrics(
        queue=name,
        answered=len(answered),
        abandoned=len(abandoned),
        timed_out=len(timed_out),
        waiting=sum(1 for t in tickets if t.in_queue),
        wait_p50_s=percentile(waits, 50),
        wait_p95_s=percentile(waits, 95),
        abandon_wait_p50_s=percentile(gave_up, 50),
        abandonment_rate=round(len(abandoned) / left, 4) if left else None,
        service_level=round(within / left, 4) if left else None,
        service_level_s=sl_s,
    )


_ROW_STATE = {
    EscalationStatus.WAITING: S.WAITING,
    EscalationStatus.RINGING: S.OFFERED,
    EscalationStatus.ACTIVE: S.CONNECTED,
    EscalationStatus.HANDED_BACK: S.RETURNED,
    EscalationStatus.ENDED: S.ENDED,
    EscalationStatus.ABANDONED: S.ABANDONED,
    EscalationStatus.TIMED_OUT: S.TIMED_OUT,
}


def _epoch(ts: datetime | None) -> float | None:
    if ts is None:
        return None
    # SQLite hands back naive datetimes; every stored time is UTC.
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()


def ticket_of_row(row: Escalation) -> Ticket:
    """An escalations row as the ticket it recorded (times and outcome only)."""
    return Ticket(
        call_id=row.call_id,
        queue=row.queue,
        priority=row.priority,
        state=_ROW_STATE.get(EscalationStatus(row.status), S.WAITING),
        enqueued_at=_epoch(row.requested_at) or 0.0,
        supervisor=row.supervisor,
        answered_at=_epoch(row.answered_at),
        returned_at=_epoch(row.returned_at),
        ended_at=_epoch(row.ended_at),
    )


def queue_figures(
    db: Session, *, since: datetime, queues: QueueDirectory | None = None
) -> dict[str, QueueMetrics]:
    """Figures per queue over escalations requested at or after `since` (timezone-aware),
    from the escalations table. Service level uses each queue's `service_level_s` from
    `queues` (the default queue's when not given)."""
    if since.tzinfo is None:
        raise ValueError("queue_figures: `since` must be timezone-aware (e.g. UTC)")
    rows = db.exec(select(Escalation).where(Escalation.requested_at >= since)).all()
    return queue_metrics((ticket_of_row(r) for r in rows), queues)
