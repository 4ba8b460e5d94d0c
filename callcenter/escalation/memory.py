"""The embedded broker: everything in one process's memory, one asyncio loop.

Each operation reads and writes without awaiting in between, so on one event loop every
operation is atomic: two supervisors racing for one call cannot both win.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import replace

from callcenter.escalation import routing
from callcenter.escalation.broker import CancelReason, QueueView, TicketStatus
from callcenter.escalation.errors import UnknownTicket
from callcenter.escalation.load import load_changes, newly_answered
from callcenter.escalation.offers import Offer
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.queues import Queue, QueueDirectory
from callcenter.escalation.tickets import Ticket, TicketState

S = TicketState


class InProcessEscalationBroker:
    """EscalationBroker for `callcenter dev` and tests: nothing survives the process."""

    def __init__(
        self,
        queues: Iterable[Queue] = (),
        *,
        heartbeat_ttl_s: float = 15.0,
        clock: Callable[[], float] = time.time,
        answers_kept: int = 20,
        retention_s: float = 3600.0,
    ) -> None:
        self._queues = QueueDirectory(list(queues))
        self._ttl = heartbeat_ttl_s
        self._clock = clock
        self._tickets: dict[str, Ticket] = {}
        self._presence: dict[str, Presence] = {}
        self._offers: dict[str, str] = {}  # open offer id -> call id
        self._retention_s = retention_s
        self._inbox: defaultdict[str, asyncio.Queue[str]] = defaultdict(asyncio.Queue)
        self._answers: defaultdict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=answers_kept)
        )
        self._seq = 0
        self._changed = asyncio.Event()
        self._work = asyncio.Event()

    # --- bookkeeping -----------------------------------------------------------------------

    def _apply(self, before: Ticket | None, after: Ticket) -> Ticket:
        now = self._clock()
        for change in load_changes(before, after):
            p = self._presence.get(change.supervisor_id)
            if p is not None:
                idle = now if change.idle_from_now else p.idle_since
                self._presence[p.supervisor_id] = replace(
                    p, load=max(0, p.load + change.delta), idle_since=idle
                )
                self._work.set()
        if newly_answered(before, after) and after.answered_at is not None:
            self._answers[after.queue].append(after.answered_at)
        if before is not None and before.offer_id and before.offer_id != after.offer_id:
            self._offers.pop(before.offer_id, None)
        if after.offer_id:
            self._offers[after.offer_id] = after.call_id
        self._tickets[after.call_id] = after
        if after.state is S.WAITING:
            self._work.set()
        # Wake every wait_update: positions move for everyone behind a call that left.
        self._changed.set()
        self._changed = asyncio.Event()
        return after

    def _get(self, call_id: str) -> Ticket:
        t = self._tickets.get(call_id)
        if t is None:
            raise UnknownTicket(call_id)
        return t

    def _status(self, t: Ticket) -> TicketStatus:
        pos = routing.position(t, self._tickets.values())
        return TicketStatus(t, pos, routing.expected_wait(pos, self._answers[t.queue]))

    # --- the call's side -------------------------------------------------------------------

    async def enqueue(self, ticket: Ticket) -> Ticket:
        old = self._tickets.get(ticket.call_id)
        if old is not None and old.live:
            return old
        self._seq += 1
        return self._apply(old, ticket.queued(seq=self._seq, now=self._clock(), replacing=old))

    async def status(self, call_id: str) -> TicketStatus | None:
        t = self._tickets.get(call_id)
        return None if t is None else self._status(t)

    async def wait_update(
        self, call_id: str, timeout: float, last: TicketStatus | None = None
    ) -> TicketStatus | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            current = await self.status(call_id)
            left = deadline - loop.time()
            if current is None or current.differs_from(last) or left <= 0:
                return current
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def cancel(self, call_id: str, reason: CancelReason) -> Ticket:
        t = self._get(call_id)
        if t.state in (S.ENDED, S.ABANDONED, S.TIMED_OUT):
            return t
        target = S.ABANDONED if reason == "caller_hangup" else S.TIMED_OUT
        return self._apply(t, t.leave(target, now=self._clock(), reason=reason))

    async def attach(self, ticket: Ticket, supervisor_id: str) -> Ticket:
        old = self._tickets.get(ticket.call_id)
        if old is not None and old.live:
            return old
        self._seq += 1
        now = self._clock()
        queued = ticket.queued(seq=self._seq, now=now, replacing=old)
        return self._apply(old, queued.connect(supervisor_id, now=now))

    async def returned(self, call_id: str) -> Ticket:
        t = self._get(call_id)
        return self._apply(t, t.hand_back(now=self._clock()))

    async def end(self, call_id: str, reason: str = "") -> Ticket:
        t = self._get(call_id)
        return self._apply(t, t.end(now=self._clock(), reason=reason))

    async def resume(self, call_id: str) -> TicketStatus | None:
        t = self._tickets.get(call_id)
        return self._status(t) if t is not None and t.live else None

    async def staffed(self, queue: str) -> int:
        return routing.staffed(
            self._presence.values(), self._queues.get(queue), now=self._clock(),
            heartbeat_ttl_s=self._ttl,
        )

    # --- the supervisors' side -------------------------------------------------------------

    async def heartbeat(self, presence: Presence) -> Presence:
        now = self._clock()
        old = self._presence.get(presence.supervisor_id)
        fresh = replace(
            presence,
            last_heartbeat=now,
            load=old.load if old else 0,
            idle_since=old.idle_since if old else now,
        )
        self._presence[presence.supervisor_id] = fresh
        self._work.set()
        return fresh

    async def set_status(self, supervisor_id: str, status: SupervisorStatus) -> Presence:
        status = SupervisorStatus(status)
        old = self._presence.get(supervisor_id) or Presence(supervisor_id)
        idle = self._clock() if status is not old.status else old.idle_since
        p = replace(old, status=status, last_heartbeat=self._clock(), idle_since=idle)
        self._presence[supervisor_id] = p
        self._work.set()
        return p

    async def next_offer(self, supervisor_id: str, timeout: float) -> Offer | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        inbox = self._inbox[supervisor_id]
        while (left := deadline - loop.time()) > 0:
            try:
                offer_id = await asyncio.wait_for(inbox.get(), left)
            except TimeoutError:
                return None
            offer = self._open_offer(offer_id, supervisor_id)
            if offer is not None:
                return offer
        return None

    def _open_offer(self, offer_id: str, supervisor_id: str) -> Offer | None:
        t = self._tickets.get(self._offers.get(offer_id, ""))
        if t is None or t.offer_id != offer_id or t.offered_to != supervisor_id:
            return None
        return Offer.of(t)

    async def accept(self, offer_id: str, supervisor_id: str) -> Ticket | None:
        offer = self._open_offer(offer_id, supervisor_id)
        if offer is None or offer.ticket.state is not S.OFFERED:
            return None
        now = self._clock()
        if offer.expires_at <= now:
            return None
        return self._apply(offer.ticket, offer.ticket.connect(supervisor_id, now=now))

    async def decline(self, offer_id: str, supervisor_id: str) -> bool:
        offer = self._open_offer(offer_id, supervisor_id)
        if offer is None:
            return False
        self._apply(offer.ticket, offer.ticket.withdraw_offer())
        return True

    async def take(self, call_id: str, supervisor_id: str) -> Ticket | None:
        t = self._tickets.get(call_id)
        p = self._presence.get(supervisor_id)
        if t is None or not t.in_queue or p is None:
            return None
        need = routing.required_skills(t, self._queues.get(t.queue))
        own_offer = t.offered_to == supervisor_id
        if not own_offer and (p.load >= p.capacity or not p.has_skills(need)):
            return None
        return self._apply(t, t.connect(supervisor_id, now=self._clock()))

    async def queues(self) -> list[QueueView]:
        now = self._clock()
        names = set(self._queues.names()) | {t.queue for t in self._tickets.values()}
        out = []
        for name in sorted(names):
            queued = [t for t in self._tickets.values() if t.queue == name and t.in_queue]
            out.append(
                QueueView(
                    queue=self._queues.get(name),
                    waiting=len(queued),
                    offered=sum(1 for t in queued if t.state is S.OFFERED),
                    longest_wait_s=max((now - t.enqueued_at for t in queued), default=0.0),
                    staffed=await self.staffed(name),
                )
            )
        return out

    async def waiting(self, queue: str | None = None) -> list[TicketStatus]:
        queued = [
            t for t in self._tickets.values() if t.in_queue and queue in (None, t.queue)
        ]
        queued.sort(key=lambda t: routing.routing_key(t, self._queues.get(t.queue)))
        return [self._status(t) for t in queued]

    async def supervisors(self) -> list[Presence]:
        now = self._clock()
        return [
            replace(p, status=p.effective_status(now, self._ttl))
            for p in sorted(self._presence.values(), key=lambda p: p.supervisor_id)
        ]

    # --- routing ---------------------------------------------------------------------------

    async def route_once(self) -> list[Offer]:
        now = self._clock()
        self._forget_finished(now)
        for t in routing.overdue(self._tickets.values(), now=now):
            self._apply(t, t.leave(S.TIMED_OUT, now=now, reason="timeout"))
        stale = routing.offers_to_withdraw(
            self._tickets.values(), self._presence, now=now, heartbeat_ttl_s=self._ttl
        )
        for t in stale:
            self._apply(t, t.withdraw_offer())
        made: list[Offer] = []
        plan = routing.plan(
            self._tickets.values(), self._presence.values(), self._queues, now=now,
            heartbeat_ttl_s=self._ttl,
        )
        for a in plan:
            offer_id = uuid.uuid4().hex[:16]
            after = a.ticket.offer(
                offer_id, a.supervisor_id, now=now, expires_at=now + a.accept_timeout_s
            )
            self._apply(a.ticket, after)
            self._inbox[a.supervisor_id].put_nowait(offer_id)
            made.append(Offer(offer_id, after, a.supervisor_id, now + a.accept_timeout_s))
        self._work.clear()
        return made

    def _forget_finished(self, now: float) -> None:
        # The embedded broker runs for days in `callcenter dev`: finished tickets go after a
        # while (the call record in the database keeps the history).
        old = [
            cid for cid, t in self._tickets.items()
            if not t.live and (t.ended_at or t.returned_at or now) < now - self._retention_s
        ]
        for cid in old:
            del self._tickets[cid]

    async def wait_for_work(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), timeout)

    async def aclose(self) -> None:
        self._changed.set()
