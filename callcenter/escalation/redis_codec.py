"""Tickets and presence as Redis hashes."""

from __future__ import annotations

import json
from collections.abc import Mapping

from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.tickets import Ticket, TicketState

TICKET_FIELDS = ("version", "state", "data")
PRESENCE_FIELDS = ("status", "capacity", "skills", "hb", "load", "idle_since")


def _ticket_dict(t: Ticket) -> dict[str, object]:
    return {
        "call_id": t.call_id,
        "queue": t.queue,
        "priority": t.priority,
        "reason": t.reason,
        "skills": sorted(t.skills),
        "context": dict(t.context),
        "timeout_s": t.timeout_s,
        "seq": t.seq,
        "enqueued_at": t.enqueued_at,
        "offer_id": t.offer_id,
        "offered_to": t.offered_to,
        "offered_at": t.offered_at,
        "offer_expires_at": t.offer_expires_at,
        "declined_by": list(t.declined_by),
        "supervisor": t.supervisor,
        "answered_at": t.answered_at,
        "returned_at": t.returned_at,
        "ended_at": t.ended_at,
        "end_reason": t.end_reason,
    }


def ticket_to_hash(t: Ticket) -> dict[str, str]:
    """`version` and `state` stay plain fields (the Lua guards and redis-cli read them); the
    rest is one JSON field, because a hash of twenty fields costs twenty replies to parse."""
    return {"version": str(t.version), "state": t.state.value, "data": json.dumps(_ticket_dict(t))}


def ticket_from_hash(h: Mapping[str, str]) -> Ticket | None:
    """The ticket, or None for a missing (empty) hash."""
    if not h or "data" not in h:
        return None
    d = json.loads(h["data"])
    return Ticket(
        call_id=d["call_id"],
        queue=d["queue"],
        priority=int(d["priority"]),
        reason=d["reason"],
        skills=frozenset(d["skills"]),
        context=d["context"],
        timeout_s=d["timeout_s"],
        state=TicketState(h["state"]),
        version=int(h["version"]),
        seq=int(d["seq"]),
        enqueued_at=float(d["enqueued_at"]),
        offer_id=d["offer_id"],
        offered_to=d["offered_to"],
        offered_at=d["offered_at"],
        offer_expires_at=d["offer_expires_at"],
        declined_by=tuple(d["declined_by"]),
        supervisor=d["supervisor"],
        answered_at=d["answered_at"],
        returned_at=d["returned_at"],
        ended_at=d["ended_at"],
        end_reason=d["end_reason"],
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
