"""Pure domain: the ticket state machine, load bookkeeping, routing, estimates."""

from __future__ import annotations

import pytest

from callcenter.escalation import IllegalTransition, Presence, SupervisorStatus, TicketState
from callcenter.escalation.load import LoadChange, load_changes
from callcenter.escalation.queues import Queue, QueueDirectory, priority_value
from callcenter.escalation.routing import expected_wait, plan, position
from callcenter.escalation.tickets import ALLOWED
from tests.escalation.helpers import call

S = TicketState
NOW = 1000.0
QUEUES = QueueDirectory([Queue("support"), Queue("billing", skills=frozenset({"billing"}))])


def _queued(cid: str, seq: int, **kw: object):  # type: ignore[no-untyped-def]
    return call(cid, **kw).queued(seq=seq, now=NOW - 100 + seq)


def _sup(sid: str, idle: float = 0.0, **kw: object) -> Presence:
    return Presence(sid, last_heartbeat=NOW, idle_since=idle, **kw)  # type: ignore[arg-type]


def test_every_state_pair_is_either_allowed_or_raises():
    t = _queued("a", 1)
    moves = {
        S.OFFERED: lambda t: t.offer("o", "s", now=NOW, expires_at=NOW + 5),
        S.WAITING: lambda t: t.withdraw_offer(),
        S.CONNECTED: lambda t: t.connect("s", now=NOW),
        S.RETURNED: lambda t: t.hand_back(now=NOW),
        S.ENDED: lambda t: t.end(now=NOW),
        S.ABANDONED: lambda t: t.leave(S.ABANDONED, now=NOW),
        S.TIMED_OUT: lambda t: t.leave(S.TIMED_OUT, now=NOW),
    }
    paths = {
        S.WAITING: t,
        S.OFFERED: moves[S.OFFERED](t),
        S.CONNECTED: t.connect("s", now=NOW),
        S.RETURNED: t.connect("s", now=NOW).hand_back(now=NOW),
        S.ENDED: t.connect("s", now=NOW).end(now=NOW),
        S.ABANDONED: t.leave(S.ABANDONED, now=NOW),
        S.TIMED_OUT: t.leave(S.TIMED_OUT, now=NOW),
    }
    for source, ticket in paths.items():
        for target, move in moves.items():
            if target in ALLOWED[source]:
                moved = move(ticket)
                assert moved.state is target and moved.version == ticket.version + 1
            else:
                with pytest.raises(IllegalTransition):
                    move(ticket)


def test_leave_only_goes_to_abandoned_or_timed_out():
    with pytest.raises(IllegalTransition):
        _queued("a", 1).leave(S.ENDED, now=NOW)


def test_load_follows_offers_and_calls():
    t = _queued("a", 1)
    offered = t.offer("o", "s1", now=NOW, expires_at=NOW + 5)
    assert load_changes(t, offered) == [LoadChange("s1", 1)]
    assert load_changes(offered, offered.connect("s1", now=NOW)) == []  # the offer reserved it
    assert load_changes(offered, offered.connect("s2", now=NOW)) == [
        LoadChange("s1", -1), LoadChange("s2", 1)
    ]
    live = offered.connect("s1", now=NOW)
    assert load_changes(live, live.hand_back(now=NOW)) == [LoadChange("s1", -1, True)]
    assert load_changes(offered, offered.withdraw_offer()) == [LoadChange("s1", -1)]


def test_plan_orders_by_priority_then_arrival_and_spreads_over_supervisors():
    tickets = [_queued("n", 1), _queued("u", 2, priority=3), _queued("l", 3, priority=0)]
    sups = [_sup("busy", status=SupervisorStatus.BUSY), _sup("x", idle=5), _sup("y", idle=1)]
    got = [(a.ticket.call_id, a.supervisor_id) for a in plan(
        tickets, sups, QUEUES, now=NOW, heartbeat_ttl_s=15
    )]
    assert got == [("u", "y"), ("n", "x")]


def test_plan_skips_a_call_nobody_can_take_and_prefers_someone_who_did_not_decline():
    bill = _queued("bill", 1, priority=3, queue="billing")
    declined = _queued("d", 2).offer("o", "a", now=NOW, expires_at=NOW).withdraw_offer()
    got = plan([bill, declined], [_sup("a"), _sup("b", idle=50)], QUEUES, now=NOW,
               heartbeat_ttl_s=15)
    assert [(a.ticket.call_id, a.supervisor_id) for a in got] == [("d", "b")]


def test_plan_ignores_silent_supervisors():
    stale = Presence("s", last_heartbeat=NOW - 16)
    assert plan([_queued("a", 1)], [stale], QUEUES, now=NOW, heartbeat_ttl_s=15) == []


def test_position_counts_only_the_same_queue_and_expected_wait_uses_the_rate():
    a, b, c = _queued("a", 1), _queued("b", 2, queue="billing"), _queued("c", 3)
    assert position(c, [a, b, c]) == 2 and position(b, [a, b, c]) == 1
    assert expected_wait(3, [10.0]) is None
    assert expected_wait(3, [100.0, 120.0, 140.0]) == 60.0
    assert expected_wait(None, [1.0, 2.0]) is None


def test_flow_priorities_map_to_numbers():
    assert [priority_value(p) for p in ("low", "normal", "high", "urgent")] == [0, 1, 2, 3]
    assert priority_value(7) == 7 and priority_value("odd") == 1
