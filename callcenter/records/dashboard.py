"""The dashboard's figures over a period: calls per hour, containment, outcomes, handle time,
the escalation queues (callcenter.escalation.metrics) and the alerts they raise.

One pass over the period's calls (a few columns each, no JSON), one over its escalations
(through `queue_figures`), and one look at who is waiting now.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from callcenter.accounts.times import as_utc
from callcenter.escalation.metrics import QueueMetrics, queue_figures
from callcenter.models import Call, Disposition, Escalation, EscalationStatus

# Resolved without a person: the AI finished the call or saved the caller's callback.
CONTAINED = {Disposition.RESOLVED, Disposition.CALLBACK}
LONG_WAIT_S = 120.0  # a caller waiting longer than this for a person raises an alert


@dataclass(frozen=True, slots=True)
class Alert:
    level: str  # warning | critical
    message: str


@dataclass(slots=True)
class Dashboard:
    since: datetime
    until: datetime
    calls: int = 0
    per_hour: list[tuple[datetime, int]] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # disposition -> calls
    containment: float | None = None  # share of finished calls resolved without a person
    handle_time_s: float | None = None  # mean answered -> ended
    queues: dict[str, QueueMetrics] = field(default_factory=dict)
    waiting_now: int = 0
    longest_wait_s: float | None = None
    alerts: list[Alert] = field(default_factory=list)


def dashboard(db: Session, since: datetime, until: datetime, *,
              long_wait_s: float = LONG_WAIT_S) -> Dashboard:
    """Figures for calls that started in [since, until); the queue figures for escalations
    requested since `since`; who waits now as of `until`."""
    out = Dashboard(since=as_utc(since), until=as_utc(until))
    rows = db.exec(select(Call.started_at, Call.answered_at, Call.ended_at, Call.disposition)
                   .where(col(Call.started_at) >= out.since,
                          col(Call.started_at) < out.until)).all()
    hours: Counter[datetime] = Counter()
    handled: list[float] = []
    for started, answered, ended, disposition in rows:
        out.calls += 1
        hours[as_utc(started).replace(minute=0, second=0, microsecond=0)] += 1
        if disposition:
            out.outcomes[str(disposition)] += 1
        if answered is not None and ended is not None:
            handled.append((as_utc(ended) - as_utc(answered)).total_seconds())
    start = out.since.replace(minute=0, second=0, microsecond=0)
    hour = start
    while hour < out.until:
        out.per_hour.append((hour, hours.get(hour, 0)))
        hour += timedelta(hours=1)
    finished = sum(out.outcomes.values())
    if finished:
        out.containment = sum(out.outcomes[d] for d in CONTAINED) / finished
    if handled:
        out.handle_time_s = sum(handled) / len(handled)
    out.queues = queue_figures(db, since=out.since)
    oldest, waiting = db.exec(
        select(func.min(Escalation.requested_at), func.count())
        .where(col(Escalation.status) == EscalationStatus.WAITING)).one()
    out.waiting_now = int(waiting)
    if oldest is not None:
        out.longest_wait_s = max((out.until - as_utc(oldest)).total_seconds(), 0.0)
    out.alerts = _alerts(out, long_wait_s)
    return out


def _alerts(d: Dashboard, long_wait_s: float) -> list[Alert]:
    alerts = []
    if d.longest_wait_s is not None and d.longest_wait_s > long_wait_s:
        alerts.append(Alert("critical", f"A caller has waited {d.longest_wait_s / 60:.0f} min "
                                        f"for a person (over {long_wait_s / 60:.0f} min)."))
    for name, q in sorted(d.queues.items()):
        if q.abandonment_rate is not None and q.abandonment_rate > 0.2 and q.abandoned >= 3:
            alerts.append(Alert("warning", f"Queue {name}: {q.abandonment_rate:.0%} of callers "
                                           "hung up waiting for a person."))
    return alerts
