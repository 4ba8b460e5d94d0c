"""Routing as pure functions over a snapshot of tickets and presence.

Both brokers take a snapshot, ask these functions what to do, then apply each decision
atomically against the current state (so a decision made on a stale snapshot just fails).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.queues import Queue, QueueDirectory
from callcenter.escalation.tickets import Ticket, TicketState

# Redis sorted-set scores are doubles: 1e12 arrivals per priority step keeps them exact.
_PRIORITY_STEP = 1e12


def queue_score(ticket: Ticket) -> float:
    """Order inside one queue: higher priority first, then arrival."""
    return -ticket.priority * _PRIORITY_STEP + ticket.seq


def routing_key(ticket: Ticket, queue: Queue) -> tuple[int, int, int]:
    """Order across queues: ticket priority, then the queue's priority, then arrival."""
    return (-ticket.priority, -queue.priority, ticket.seq)


def required_skills(ticket: Ticket, queue: Queue) -> frozenset[str]:
    return queue.skills | ticket.skills


@dataclass(frozen=True, slots=True)
class Assignment:
    """Offer `ticket` to `supervisor_id`, expiring `accept_timeout_s` from now."""

    ticket: Ticket
    supervisor_id: str
    accept_timeout_s: float


def plan(
    tickets: Iterable[Ticket],
    supervisors: Iterable[Presence],
    queues: QueueDirectory,
    *,
    now: float,
    heartbeat_ttl_s: float,
) -> list[Assignment]:
    """Who gets offered what, now.

    The highest-priority, longest-waiting call goes first, to the free supervisor with the
    skills who is least loaded and idle the longest. A supervisor who already let this call
    go is only chosen when nobody else is free. A call nobody can take does not hold up the
    calls behind it that someone else can take.
    """
    waiting = [t for t in tickets if t.state is TicketState.WAITING]
    waiting.sort(key=lambda t: routing_key(t, queues.get(t.queue)))
    # Free supervisors in preference order; the first with the skills wins, so a pass is
    # about one step per call when skills mostly match (not calls x supervisors).
    free = sorted(
        (p for p in supervisors if p.can_take((), now, heartbeat_ttl_s)), key=_supervisor_key
    )
    out: list[Assignment] = []
    for ticket in waiting:
        queue = queues.get(ticket.queue)
        need = required_skills(ticket, queue)
        first_able: int | None = None
        pick: int | None = None
        for i, p in enumerate(free):
            if not p.has_skills(need):
                continue
            if first_able is None:
                first_able = i
            if p.supervisor_id not in ticket.declined_by:
                pick = i
                break
        chosen = pick if pick is not None else first_able
        if chosen is None:
            continue
        sup = free.pop(chosen)
        out.append(Assignment(ticket, sup.supervisor_id, queue.accept_timeout_s))
        sup = replace(sup, load=sup.load + 1)
        if sup.load < sup.capacity:
            bisect.insort(free, sup, key=_supervisor_key)
    return out


def _supervisor_key(p: Presence) -> tuple[int, float, str]:
    # Least loaded, then longest idle; the id makes ties deterministic.
    return (p.load, p.idle_since, p.supervisor_id)


def offers_to_withdraw(
    tickets: Iterable[Ticket],
    supervisors: Mapping[str, Presence],
    *,
    now: float,
    heartbeat_ttl_s: float,
) -> list[Ticket]:
    """Offered tickets whose offer ran out, or whose supervisor stopped heart-beating."""
    out = []
    for t in tickets:
        if t.state is not TicketState.OFFERED:
            continue
        sup = supervisors.get(t.offered_to or "")
        expired = t.offer_expires_at is not None and t.offer_expires_at <= now
        if expired or sup is None or not sup.alive(now, heartbeat_ttl_s):
            out.append(t)
    return out


def overdue(tickets: Iterable[Ticket], *, now: float) -> list[Ticket]:
    """Queued tickets past the flow's wait: they time out even if their worker died."""
    return [t for t in tickets if t.in_queue and t.deadline is not None and t.deadline <= now]


def position(ticket: Ticket, queued: Iterable[Ticket]) -> int | None:
    """1-based place in its own queue (offered calls ahead still count); None once out."""
    if not ticket.in_queue:
        return None
    mine = queue_score(ticket)
    ahead = sum(
        1
        for t in queued
        if t.queue == ticket.queue and t.in_queue and t.call_id != ticket.call_id
        and queue_score(t) < mine
    )
    return ahead + 1


def expected_wait(pos: int | None, recent_answers: Sequence[float]) -> float | None:
    """Seconds until answered: place in line times the queue's recent answer interval.

    `recent_answers` are the times the queue's last calls were answered. With fewer than two
    there is no rate to go on, and an honest "unknown" beats a made-up figure.
    """
    if pos is None or len(recent_answers) < 2:
        return None
    span = max(recent_answers) - min(recent_answers)
    interval = span / (len(recent_answers) - 1)
    return round(pos * interval, 1) if math.isfinite(interval) else None


def staffed(
    supervisors: Iterable[Presence], queue: Queue, *, now: float, heartbeat_ttl_s: float
) -> int:
    """Supervisors alive, not away, with the queue's skills: zero means nobody can answer."""
    return sum(
        1
        for p in supervisors
        if p.alive(now, heartbeat_ttl_s)
        and p.status is not SupervisorStatus.AWAY
        and p.has_skills(queue.skills)
    )
