"""Queue metrics: wait percentiles, abandonment rate and service level, per queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.escalation import Queue, TicketState
from callcenter.escalation.metrics import percentile, queue_figures, queue_metrics
from callcenter.escalation.queues import QueueDirectory
from callcenter.models import Call, Escalation, EscalationStatus
from tests.escalation.helpers import call

S = TicketState


def _answered(cid: str, wait: float, queue: str = "support"):  # type: ignore[no-untyped-def]
    t = call(cid, queue=queue).queued(seq=1, now=0.0)
    return t.connect("s", now=wait).end(now=wait + 60)


def _left(cid: str, wait: float, state: TicketState):  # type: ignore[no-untyped-def]
    return call(cid).queued(seq=1, now=0.0).leave(state, now=wait)


def test_percentile_interpolates():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.05


def test_queue_metrics_per_queue():
    tickets = [
        *(_answered(f"a{i}", w) for i, w in enumerate([5, 10, 15, 40])),
        _left("gone", 30, S.ABANDONED),
        _left("late", 180, S.TIMED_OUT),
        call("still").queued(seq=9, now=0.0),
        _answered("b1", 2, queue="billing"),
    ]
    dirs = QueueDirectory([Queue("support", service_level_s=20.0)])
    m = queue_metrics(tickets, dirs)
    sup = m["support"]
    assert (sup.answered, sup.abandoned, sup.timed_out, sup.waiting) == (4, 1, 1, 1)
    assert sup.wait_p50_s == 12.5 and sup.wait_p95_s == 36.25
    assert sup.abandon_wait_p50_s == 30.0
    assert sup.abandonment_rate == round(1 / 6, 4)
    assert sup.service_level == 0.5  # 3 of the 6 that left were answered within 20 s
    assert m["billing"].service_level == 1.0 and m["billing"].abandonment_rate == 0.0


def test_queue_metrics_with_nothing_finished_has_no_rates():
    m = queue_metrics([call("x").queued(seq=1, now=0.0)])["support"]
    assert m.abandonment_rate is None and m.service_level is None and m.wait_p50_s is None


def _store_escalations(engine: Engine) -> None:
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    rows = [  # (call, queue, status, answered after s, ended after s, requested at)
        ("a1", "support", EscalationStatus.ENDED, 5, 120, t0),
        ("a2", "support", EscalationStatus.HANDED_BACK, 30, 90, t0),
        ("g1", "support", EscalationStatus.ABANDONED, None, 40, t0),
        ("w1", "support", EscalationStatus.WAITING, None, None, t0),
        ("b1", "billing", EscalationStatus.ACTIVE, 3, None, t0),
        ("old", "support", EscalationStatus.ABANDONED, None, 5, t0 - timedelta(days=2)),
    ]
    with Session(engine) as s:
        for cid, queue, status, answered, ended, at in rows:
            s.add(Call(id=cid, room_name=f"call-{cid}"))
            s.add(Escalation(
                call_id=cid, queue=queue, status=status, requested_at=at,
                answered_at=at + timedelta(seconds=answered) if answered is not None else None,
                ended_at=at + timedelta(seconds=ended) if ended is not None else None,
            ))
        s.commit()


def _figures_from_the_table(engine: Engine) -> None:
    _store_escalations(engine)
    since = datetime(2026, 12, 1, tzinfo=UTC)
    dirs = QueueDirectory([Queue("support", service_level_s=20.0)])
    with Session(engine) as s:
        m = queue_figures(s, since=since, queues=dirs)
        with pytest.raises(ValueError, match="timezone-aware"):
            queue_figures(s, since=since.replace(tzinfo=None))
    sup = m["support"]  # the two-day-old abandoned call is outside the window
    assert (sup.answered, sup.abandoned, sup.timed_out, sup.waiting) == (2, 1, 0, 1)
    assert sup.wait_p50_s == 17.5 and sup.abandon_wait_p50_s == 40.0
    assert sup.abandonment_rate == round(1 / 3, 4) and sup.service_level == round(1 / 3, 4)
    assert m["billing"].answered == 1 and m["billing"].wait_p50_s == 3.0


def test_queue_figures_from_the_escalations_table_sqlite(sqlite_engine: Engine) -> None:
    _figures_from_the_table(sqlite_engine)


def test_queue_figures_from_the_escalations_table_postgres(pg_engine: Engine) -> None:
    _figures_from_the_table(pg_engine)
