"""The Redis broker's console reads: queues, queued tickets and supervisors, for listing."""

from __future__ import annotations

from dataclasses import replace

from callcenter.escalation import routing
from callcenter.escalation.broker import QueueView, TicketStatus
from callcenter.escalation.presence import Presence
from callcenter.escalation.queues import QueueDirectory
from callcenter.escalation.redis_store import RedisTickets
from callcenter.escalation.tickets import TicketState

S = TicketState


class RedisConsoleReads(RedisTickets):
    """Listing for a console; nothing here writes."""

    queue_directory: QueueDirectory
    heartbeat_ttl_s: float

    async def queues(self) -> list[QueueView]:
        tickets, sups = await self.snapshot()
        now = self._clock()
        names = set(self.queue_directory.names()) | {t.queue for t in tickets}
        out = []
        for name in sorted(names):
            queued = [t for t in tickets if t.queue == name and t.in_queue]
            q = self.queue_directory.get(name)
            out.append(QueueView(
                queue=q,
                waiting=len(queued),
                offered=sum(1 for t in queued if t.state is S.OFFERED),
                longest_wait_s=max((now - t.enqueued_at for t in queued), default=0.0),
                staffed=routing.staffed(
                    sups.values(), q, now=now, heartbeat_ttl_s=self.heartbeat_ttl_s
                ),
            ))
        return out

    async def waiting(self, queue: str | None = None) -> list[TicketStatus]:
        tickets, _ = await self.snapshot()
        queued = [t for t in tickets if t.in_queue and queue in (None, t.queue)]
        queued.sort(key=lambda t: routing.routing_key(t, self.queue_directory.get(t.queue)))
        answers = await self.recent_answers({t.queue for t in queued})
        out = []
        for t in queued:
            pos = routing.position(t, tickets)
            out.append(TicketStatus(t, pos, routing.expected_wait(pos, answers[t.queue])))
        return out

    async def supervisors(self) -> list[Presence]:
        now = self._clock()
        sups = await self.load_presence()
        return [
            replace(p, status=p.effective_status(now, self.heartbeat_ttl_s))
            for _, p in sorted(sups.items())
        ]

