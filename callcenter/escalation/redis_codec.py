"""Tickets and presence as flat Redis hashes (all strings; '' stands for None)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.tickets import Ticket, TicketState


def _f(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def _of(v: str | None) -> float | None:
    return None if v in (None, "") else float(v)


def ticket_to_hash(t: Ticket) -> dict[str, str]:
    return {
        "call_id": t.call_id,
        "queue": t.queue,
        "priority": str(t.priority),
        "reason": t.reason,
        "skills": json.dumps(sorted(t.skills)),
        "context": json.dumps(dict(t.context)),
        "timeout_s": _f(t.timeout_s),
        "state": t.state.value,
        "version": str(t.version),
        "seq": str(t.seq),
        "enqueued_at": _f(t.enqueued_at),
        "offer_id": t.offer_id or "",
        "offered_to": t.offered_to or "",
        "offered_at": _f(t.offered_at),
        "offer_expires_at": _f(t.offer_expires_at),
        "declined_by": json.dumps(list(t.declined_by)),
        "supervisor": t.supervisor or "",
        "answered_at": _f(t.answered_at),
        "returned_at": _f(t.returned_at),
        "ended_at": _f(t.ended_at),
        "end_reason": t.end_reason,
    }


def ticket_from_hash(h: Mapping[str, str]) -> Ticket | None:
    """The ticket, or None for a missing (empty) hash."""
    if not h or "state" not in h:
        return None
    return Ticket(
        call_id=h["call_id"],
        queue=h["queue"],
        priority=int(h["priority"]),
        reason=h.get("reason", ""),
        skills=frozenset(json.loads(h.get("skills") or "[]")),
        context=json.loads(h.get("context") or "{}"),
        timeout_s=_of(h.get("timeout_s")),
        state=TicketState(h["state"]),
        version=int(h["version"]),
        seq=int(h["seq"]),
        enqueued_at=float(h["enqueued_at"]),
        offer_id=h.get("offer_id") or None,
        offered_to=h.get("offered_to") or None,
        offered_at=_of(h.get("offered_at")),
        offer_expires_at=_of(h.get("offer_expires_at")),
        declined_by=tuple(json.loads(h.get("declined_by") or "[]")),
        supervisor=h.get("supervisor") or None,
        answered_at=_of(h.get("answered_at")),
        returned_at=_of(h.get("returned_at")),
        ended_at=_of(h.get("ended_at")),
        end_reason=h.get("end_reason", ""),
    )


def presence_fields(p: Presence) -> dict[str, str]:
    """What the supervisor reports; load and idle_since are the broker's own fields."""
    return {
        "status": p.status.value,
        "capacity": str(p.capacity),
        "skills": json.dumps(sorted(p.skills)),
    }


def presence_from_hash(supervisor_id: str, h: Mapping[str, str]) -> Presence | None:
    if not h or "status" not in h:
        return None
    return Presence(
        supervisor_id=supervisor_id,
        status=SupervisorStatus(h["status"]),
        capacity=int(h.get("capacity") or 1),
        skills=frozenset(json.loads(h.get("skills") or "[]")),
        last_heartbeat=float(h.get("hb") or 0.0),
        load=int(h.get("load") or 0),
        idle_since=float(h.get("idle_since") or 0.0),
    )
