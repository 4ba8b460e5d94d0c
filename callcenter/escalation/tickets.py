"""The escalation ticket: one call's place in a supervisor queue, and its state machine.

A ticket is immutable; every move returns a new ticket with `version` one higher, which is
what the Redis broker compares-and-sets on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from callcenter.escalation.errors import IllegalTransition


class TicketState(StrEnum):
    WAITING = "waiting"  # in the queue, nobody offered it
    OFFERED = "offered"  # one supervisor has an open offer; still holds its place
    CONNECTED = "connected"  # a supervisor has the call
    RETURNED = "returned"  # the supervisor handed the call back to the AI
    ENDED = "ended"
    ABANDONED = "abandoned"  # the caller hung up before anyone answered
    TIMED_OUT = "timed_out"  # the flow's wait ran out before anyone answered


S = TicketState
ALLOWED: dict[TicketState, frozenset[TicketState]] = {
    # waiting -> connected is a supervisor picking the call from the console list.
    S.WAITING: frozenset({S.OFFERED, S.CONNECTED, S.ABANDONED, S.TIMED_OUT}),
    # offered -> waiting is a decline, an accept timeout or the supervisor going away.
    S.OFFERED: frozenset({S.WAITING, S.CONNECTED, S.ABANDONED, S.TIMED_OUT}),
    S.CONNECTED: frozenset({S.RETURNED, S.ENDED}),
    S.RETURNED: frozenset({S.ENDED}),
    S.ENDED: frozenset(),
    S.ABANDONED: frozenset(),
    S.TIMED_OUT: frozenset(),
}
IN_QUEUE = frozenset({S.WAITING, S.OFFERED})
LIVE = frozenset({S.WAITING, S.OFFERED, S.CONNECTED})
FINISHED = frozenset({S.ENDED, S.ABANDONED, S.TIMED_OUT})


@dataclass(frozen=True, slots=True)
class Ticket:
    """A call waiting for (or handled by) a supervisor. Keyed by call id: one live per call."""

    call_id: str
    queue: str
    priority: int = 1
    reason: str = ""
    skills: frozenset[str] = field(default_factory=frozenset)  # on top of the queue's
    context: Mapping[str, Any] = field(default_factory=dict)  # the hand-off brief (JSON)
    timeout_s: float | None = None  # the flow's wait; the broker times the ticket out after it
    state: TicketState = S.WAITING
    version: int = 0
    seq: int = 0  # arrival order, given by the broker
    enqueued_at: float = 0.0
    offer_id: str | None = None
    offered_to: str | None = None
    offered_at: float | None = None
    offer_expires_at: float | None = None
    declined_by: tuple[str, ...] = ()  # who let an offer of this call go, in order
    supervisor: str | None = None
    answered_at: float | None = None
    returned_at: float | None = None
    ended_at: float | None = None
    end_reason: str = ""

    @property
    def in_queue(self) -> bool:
        return self.state in IN_QUEUE

    @property
    def live(self) -> bool:
        return self.state in LIVE

    @property
    def deadline(self) -> float | None:
        return None if self.timeout_s is None else self.enqueued_at + self.timeout_s

    def wait_s(self, now: float | None = None) -> float | None:
        """Seconds in the queue: until answered, until it left unanswered, or until `now`."""
        if self.answered_at is not None:
            return self.answered_at - self.enqueued_at
        if self.state in (S.ABANDONED, S.TIMED_OUT) and self.ended_at is not None:
            return self.ended_at - self.enqueued_at
        return None if now is None else now - self.enqueued_at

    def _move(self, target: TicketState, **changes: Any) -> Ticket:
        if target not in ALLOWED[self.state]:
            raise IllegalTransition(self.call_id, self.state.value, target.value)
        return replace(self, state=target, version=self.version + 1, **changes)

    def queued(self, *, seq: int, now: float, replacing: Ticket | None = None) -> Ticket:
        """The ticket as the broker stores it on arrival. Versions keep rising across a
        call's escalations, so a compare-and-set against an old ticket can never match."""
        version = (replacing.version if replacing else 0) + 1
        return replace(self, state=S.WAITING, version=version, seq=seq, enqueued_at=now)

    def offer(self, offer_id: str, supervisor: str, *, now: float, expires_at: float) -> Ticket:
        return self._move(
            S.OFFERED,
            offer_id=offer_id,
            offered_to=supervisor,
            offered_at=now,
            offer_expires_at=expires_at,
        )

    def withdraw_offer(self) -> Ticket:
        """Back to waiting, same place; the supervisor who let it go is remembered."""
        declined = self.declined_by + ((self.offered_to,) if self.offered_to else ())
        return self._move(
            S.WAITING, offer_id=None, offered_to=None, offer_expires_at=None, declined_by=declined
        )

    def connect(self, supervisor: str, *, now: float) -> Ticket:
        return self._move(
            S.CONNECTED,
            supervisor=supervisor,
            answered_at=now,
            offer_id=None,
            offered_to=None,
            offer_expires_at=None,
        )

    def hand_back(self, *, now: float) -> Ticket:
        return self._move(S.RETURNED, returned_at=now)

    def end(self, *, now: float, reason: str = "") -> Ticket:
        return self._move(S.ENDED, ended_at=now, end_reason=reason)

    def leave(self, target: TicketState, *, now: float, reason: str = "") -> Ticket:
        """Leave the queue unanswered (abandoned or timed out)."""
        if target not in (S.ABANDONED, S.TIMED_OUT):
            raise IllegalTransition(self.call_id, self.state.value, target.value)
        return self._move(
            target, ended_at=now, end_reason=reason, offer_id=None, offered_to=None,
            offer_expires_at=None,
        )
