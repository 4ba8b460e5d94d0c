"""An offer: one supervisor may accept one call until it expires."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.escalation.tickets import Ticket


@dataclass(frozen=True, slots=True)
class Offer:
    """What a supervisor's console rings with; `ticket` carries the hand-off brief."""

    offer_id: str
    ticket: Ticket
    supervisor_id: str
    expires_at: float

    @property
    def call_id(self) -> str:
        return self.ticket.call_id

    @staticmethod
    def of(ticket: Ticket) -> Offer | None:
        """The open offer a ticket holds, if any."""
        if ticket.offer_id is None or ticket.offered_to is None:
            return None
        return Offer(ticket.offer_id, ticket, ticket.offered_to, ticket.offer_expires_at or 0.0)
