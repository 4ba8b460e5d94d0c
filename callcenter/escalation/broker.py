"""The broker contract: one Protocol, both sides (the call's worker and the supervisors).

Implemented by `InProcessEscalationBroker` (embedded default) and `RedisEscalationBroker`
(production); one contract suite runs against both. All times are seconds from the
broker's clock (wall time by default; tests inject their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from callcenter.escalation.offers import Offer
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.queues import Queue
from callcenter.escalation.tickets import Ticket, TicketState

# no_supervisors: nobody is left who could answer (the ticket ends timed_out, that reason).
CancelReason = Literal["caller_hangup", "timeout", "no_supervisors"]


@dataclass(frozen=True, slots=True)
class TicketStatus:
    """What the caller's side knows about its ticket right now."""

    ticket: Ticket
    position: int | None  # 1-based place in its queue; None once it left the queue
    expected_wait_s: float | None  # None when the queue has no recent answers to go on

    @property
    def state(self) -> TicketState:
        return self.ticket.state

    @property
    def supervisor(self) -> str | None:
        return self.ticket.supervisor

    def differs_from(self, other: TicketStatus | None) -> bool:
        """A change worth telling the caller's side about (the estimate alone is not)."""
        if other is None:
            return True
        a, b = self.ticket, other.ticket
        return (a.state, a.offer_id, a.supervisor, self.position) != (
            b.state, b.offer_id, b.supervisor, other.position,
        )


@dataclass(frozen=True, slots=True)
class QueueView:
    """One queue as the console lists it."""

    queue: Queue
    waiting: int  # in the queue, offered or not
    offered: int
    longest_wait_s: float
    staffed: int  # supervisors alive and not away with the skills


class EscalationBroker(Protocol):
    """Queues, presence, offers and the atomic claim."""

    # --- the call's side -------------------------------------------------------------------

    async def enqueue(self, ticket: Ticket) -> Ticket:
        """Put a call in its queue. Idempotent: a call that already has a live ticket gets
        that ticket back, place unchanged (a restarted worker re-enqueues safely)."""
        ...

    async def status(self, call_id: str) -> TicketStatus | None: ...

    async def wait_update(
        self, call_id: str, timeout: float, last: TicketStatus | None = None
    ) -> TicketStatus | None:
        """The status as soon as it differs from `last` (state, offer, supervisor, place),
        or the current status after `timeout`. None when the call has no ticket."""
        ...

    async def cancel(self, call_id: str, reason: CancelReason) -> Ticket:
        """Leave the queue unanswered: caller_hangup -> abandoned, timeout -> timed_out.
        A ticket already finished comes back unchanged; a connected one raises."""
        ...

    async def attach(self, ticket: Ticket, supervisor_id: str) -> Ticket:
        """A supervisor took the call over without a queue: the ticket is stored connected
        to them at once, so it counts in their load (no offers beyond their capacity) until
        `returned`/`end`. A call that already has a live ticket gets that ticket back."""
        ...

    async def returned(self, call_id: str) -> Ticket:
        """The supervisor handed the call back to the AI."""
        ...

    async def end(self, call_id: str, reason: str = "") -> Ticket: ...

    async def resume(self, call_id: str) -> TicketStatus | None:
        """For a new worker taking over a call: its live ticket, place kept, or None."""
        ...

    async def staffed(self, queue: str) -> int:
        """Supervisors who could ever answer this queue now (0: do not make the caller wait)."""
        ...

    # --- the supervisors' side -------------------------------------------------------------

    async def heartbeat(self, presence: Presence) -> Presence:
        """Report status, capacity and skills; a supervisor not heard within the broker's
        heartbeat TTL is away: its open offer is withdrawn and it gets no new ones."""
        ...

    async def set_status(self, supervisor_id: str, status: SupervisorStatus) -> Presence: ...

    async def next_offer(self, supervisor_id: str, timeout: float) -> Offer | None: ...

    async def accept(self, offer_id: str, supervisor_id: str) -> Ticket | None:
        """Take the offered call: the connected ticket, or None if the offer is gone
        (expired, withdrawn, the call left or someone else has it). Exactly one winner."""
        ...

    async def decline(self, offer_id: str, supervisor_id: str) -> bool:
        """Let the offer go; the call is re-offered, to someone else first."""
        ...

    async def take(self, call_id: str, supervisor_id: str) -> Ticket | None:
        """Pick a queued call from the console list (needs the skills and spare capacity).
        Races with offers and other takers: exactly one winner."""
        ...

    async def queues(self) -> list[QueueView]: ...

    async def waiting(self, queue: str | None = None) -> list[TicketStatus]:
        """Queued tickets in routing order (one queue, or all)."""
        ...

    async def supervisors(self) -> list[Presence]: ...

    # --- routing ---------------------------------------------------------------------------

    async def route_once(self) -> list[Offer]:
        """One routing pass: time out overdue calls, withdraw dead offers, make new ones."""
        ...

    async def wait_for_work(self, timeout: float) -> None:
        """Return early when routing has something new to look at (an arrival, a decline)."""
        ...

    async def aclose(self) -> None: ...
