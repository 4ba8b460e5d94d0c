"""Queue metrics: wait percentiles, abandonment rate and service level, per queue."""

from __future__ import annotations

from callcenter.escalation import Queue, TicketState
from callcenter.escalation.metrics import percentile, queue_metrics
from callcenter.escalation.queues import QueueDirectory
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
