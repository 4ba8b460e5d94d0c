"""A supervisor's desk over an `EscalationBroker`: presence, the queue, offers, accept.

What the console page needs from the escalation domain, in one place and in the console's
words (rows to render, not tickets). It depends only on the broker contract, so the same
desk serves the in-process broker here and the Redis broker in production.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.escalation.broker import EscalationBroker
from callcenter.escalation.offers import Offer
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.queues import PRIORITIES
from callcenter.escalation.tickets import Ticket

HEARTBEAT_S = 5.0  # well inside the broker's heartbeat TTL (15 s by default)
_PRIORITY_NAMES = {v: k for k, v in PRIORITIES.items()}


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One waiting call as the console lists it."""

    call_id: str
    queue: str
    priority: str
    wait_s: int
    reason: str
    state: str
    offered_to: str | None
    position: int | None


@dataclass(frozen=True, slots=True)
class OfferView:
    """An offer as the console shows it: who, why, what the agent learned, until when."""

    offer_id: str
    call_id: str
    queue: str
    priority: str
    reason: str
    summary: list[tuple[str, str]]  # what the agent learned, as label/value lines
    expires_in_s: int


def priority_name(value: int) -> str:
    return _PRIORITY_NAMES.get(value, str(value))


def summary_lines(summary: Any) -> list[tuple[str, str]]:
    """The escalation summary (slots, path, the agent's reason) as lines a person reads."""
    if not isinstance(summary, Mapping):
        return []
    lines: list[tuple[str, str]] = []
    for key, value in summary.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, Mapping):
            lines += [(str(k), str(v)) for k, v in value.items() if v not in (None, "")]
        elif isinstance(value, list | tuple):
            lines.append((str(key), " → ".join(map(str, value))))
        else:
            lines.append((str(key), str(value)))
    return lines


def offer_view(offer: Offer, now: float | None = None) -> OfferView:
    t: Ticket = offer.ticket
    now = time.time() if now is None else now
    return OfferView(
        offer.offer_id, t.call_id, t.queue, priority_name(t.priority), t.reason,
        summary_lines(t.context.get("summary")), max(0, int(offer.expires_at - now)),
    )


class SupervisorDesk:
    """The console's side of the broker for every signed-in supervisor."""

    def __init__(self, broker: EscalationBroker) -> None:
        self.broker = broker
        self._status: dict[str, SupervisorStatus] = {}

    def status_of(self, supervisor_id: str) -> SupervisorStatus:
        return self._status.get(supervisor_id, SupervisorStatus.AWAY)

    async def set_status(self, supervisor_id: str, status: SupervisorStatus | str
                         ) -> Presence:
        """Available or away (the console's switch); takes effect for routing at once."""
        self._status[supervisor_id] = SupervisorStatus(status)
        return await self.heartbeat(supervisor_id)

    async def heartbeat(self, supervisor_id: str) -> Presence:
        """The console is open: keep this supervisor alive with the status they chose."""
        return await self.broker.heartbeat(
            Presence(supervisor_id, status=self.status_of(supervisor_id), capacity=1))

    async def queue(self) -> list[QueueRow]:
        now = time.time()
        return [
            QueueRow(
                st.ticket.call_id, st.ticket.queue, priority_name(st.ticket.priority),
                max(0, int(now - st.ticket.enqueued_at)), st.ticket.reason, st.state.value,
                st.ticket.offered_to, st.position,
            )
            for st in await self.broker.waiting()
        ]

    async def next_offer(self, supervisor_id: str, timeout: float) -> OfferView | None:
        offer = await self.broker.next_offer(supervisor_id, timeout)
        return None if offer is None else offer_view(offer)

    async def accept(self, offer_id: str, supervisor_id: str) -> Ticket | None:
        """The connected ticket, or None when the offer is gone (someone else, expired)."""
        return await self.broker.accept(offer_id, supervisor_id)

    async def decline(self, offer_id: str, supervisor_id: str) -> bool:
        return await self.broker.decline(offer_id, supervisor_id)

    async def take(self, call_id: str, supervisor_id: str) -> Ticket | None:
        return await self.broker.take(call_id, supervisor_id)
