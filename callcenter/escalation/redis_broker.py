"""The production broker: all state in Redis, so a worker can die without losing a call.

Keys, under the prefix (`cc:` by default):
  esc:t:<call>     hash   the ticket (redis_codec); expires only after it finished
  esc:q:<queue>    zset   queued call ids, score = -priority * 1e12 + arrival seq
  esc:queues       set    queue names seen
  esc:seq          string arrival counter
  esc:s:<sup>      hash   presence: status, capacity, skills, hb, load, idle_since
  esc:sups         zset   supervisor ids by last heartbeat
  esc:o:<offer>    string offer id -> call id (expires a while after the offer does)
  esc:inbox:<sup>  list   "<offer id> <call id>" rings for that supervisor's next_offer
  esc:ring         channel the supervisor id, published with each ring (redis_ring)
  esc:ans:<queue>  list   recent answer times (expected wait)
  esc:wake         list   pokes the routing loop
Every change is one `Tx` (redis_tx): a compare-and-set on the ticket's version plus the
writes the move implies, in one Lua script.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis

from callcenter.escalation import routing
from callcenter.escalation.broker import CancelReason, TicketStatus
from callcenter.escalation.errors import BrokerConflict, UnknownTicket
from callcenter.escalation.offers import Offer
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.queues import Queue, QueueDirectory
from callcenter.escalation.redis_batch import TurnGather
from callcenter.escalation.redis_codec import (
    presence_fields,
    presence_from_hash,
    ticket_from_hash,
)
from callcenter.escalation.redis_console import RedisConsoleReads
from callcenter.escalation.redis_ring import RingListener
from callcenter.escalation.redis_status import STATUS_SCRIPT, StatusPoller, parse_status
from callcenter.escalation.tickets import Ticket, TicketState

S = TicketState
# Each arriving call's ticket as it is now, and an arrival number (KEYS[1] is the counter;
# a gap in the numbers, from a call already queued, is harmless).
ARRIVALS_SCRIPT = """
local out = {}
for i = 2, #KEYS do
  out[i - 1] = {redis.call('HGETALL', KEYS[i]), redis.call('INCR', KEYS[1])}
end
return out
"""
_RETRIES = 50
_BLOCK_S = 1.0  # longest single BLPOP or unrung wait, well under the socket timeout


class RedisEscalationBroker(RedisConsoleReads):
    """EscalationBroker on Redis; any number of instances may share one Redis and prefix."""

    def __init__(
        self,
        client: aioredis.Redis,
        queues: Iterable[Queue] = (),
        *,
        prefix: str = "cc:",
        heartbeat_ttl_s: float = 15.0,
        clock: Callable[[], float] = time.time,
        poll_s: float = 0.1,
        ring_fallback_s: float = _BLOCK_S,
        owns_client: bool = False,
    ) -> None:
        super().__init__(client, prefix=prefix, clock=clock)
        self.queue_directory = QueueDirectory(list(queues))
        self.heartbeat_ttl_s = heartbeat_ttl_s
        self._owns = owns_client
        self._ring = RingListener(client, self.k("ring"), fallback_s=ring_fallback_s)
        self._status_script = client.register_script(STATUS_SCRIPT)
        self._status_reads: TurnGather[str, TicketStatus | None] = TurnGather(
            self._read_statuses)
        self._poller = StatusPoller(self._read_statuses, poll_s=poll_s)
        self._arrival_script = client.register_script(ARRIVALS_SCRIPT)
        self._arrivals: TurnGather[str, tuple[dict[str, str], int]] = TurnGather(
            self._number_arrivals)

    @classmethod
    def from_url(
        cls,
        url: str,
        queues: Iterable[Queue] = (),
        *,
        max_connections: int = 512,
        **kwargs: Any,
    ) -> RedisEscalationBroker:
        """A broker with its own pool. Each waiting supervisor holds a connection in BLPOP,
        so the pool is large, and blocking: a burst waits for a connection, never fails."""
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=10.0,
            decode_responses=True,
            socket_timeout=10.0,
            socket_connect_timeout=5.0,
        )
        return cls(aioredis.Redis(connection_pool=pool), queues, owns_client=True, **kwargs)

    # --- the call's side -------------------------------------------------------------------

    async def enqueue(self, ticket: Ticket) -> Ticket:
        for _ in range(_RETRIES):
            # The burst's arrivals read their tickets and take numbers in one script call.
            raw, seq = await self._arrivals.run(ticket.call_id)
            old = ticket_from_hash(raw)
            if old is not None and old.live:
                return old
            new = ticket.queued(seq=int(seq), now=self._clock(), replacing=old)
            # A hash left unreadable (an older format) is replaced, not fought over forever.
            if await self.commit(old, new, expect=raw.get("version", "")):
                return new
        raise BrokerConflict(f"call {ticket.call_id}: enqueue kept losing to other writers")

    async def attach(self, ticket: Ticket, supervisor_id: str) -> Ticket:
        for _ in range(_RETRIES):
            raw, seq = await self._arrivals.run(ticket.call_id)
            old = ticket_from_hash(raw)
            if old is not None and old.live:
                return old
            now = self._clock()
            queued = ticket.queued(seq=int(seq), now=now, replacing=old)
            new = queued.connect(supervisor_id, now=now)
            if await self.commit(old, new, expect=raw.get("version", "")):
                return new
        raise BrokerConflict(f"call {ticket.call_id}: attach kept losing to other writers")

    async def _number_arrivals(self, call_ids: list[str]) -> list[tuple[dict[str, str], int]]:
        replies = await self.batch.script(
            self._arrival_script, [self.k("seq"), *(self.k("t", c) for c in call_ids)], [])
        return [(dict(zip(flat[::2], flat[1::2], strict=True)), int(seq))
                for flat, seq in replies]

    async def status(self, call_id: str) -> TicketStatus | None:
        # Reads asked for at the same moment share one script call (redis_status).
        return await self._status_reads.run(call_id)

    async def _read_statuses(self, call_ids: list[str]) -> list[TicketStatus | None]:
        replies = await self.batch.script(
            self._status_script, [self.k("t", c) for c in call_ids],
            [self.k("q", "") + ":", self.k("ans", "") + ":", *call_ids])
        return [parse_status(r) for r in replies]

    async def wait_update(
        self, call_id: str, timeout: float, last: TicketStatus | None = None
    ) -> TicketStatus | None:
        # One poller reads every waiting call of this process each poll interval (a queue
        # move changes the place of every call behind it: telling each by pub/sub would
        # cost more than one read for all).
        first = await self.status(call_id)
        return await self._poller.wait_update(call_id, first, timeout, last)

    async def _move(self, call_id: str, step: Callable[[Ticket], Ticket | None]) -> Ticket:
        for _ in range(_RETRIES):
            t = await self.load_ticket(call_id)
            if t is None:
                raise UnknownTicket(call_id)
            after = step(t)
            if after is None:
                return t
            if await self.commit(t, after):
                return after
        raise BrokerConflict(f"call {call_id}: update kept losing to other writers")

    async def cancel(self, call_id: str, reason: CancelReason) -> Ticket:
        target = S.ABANDONED if reason == "caller_hangup" else S.TIMED_OUT

        def step(t: Ticket) -> Ticket | None:
            if t.state in (S.ENDED, S.ABANDONED, S.TIMED_OUT):
                return None
            return t.leave(target, now=self._clock(), reason=reason)

        return await self._move(call_id, step)

    async def returned(self, call_id: str) -> Ticket:
        return await self._move(call_id, lambda t: t.hand_back(now=self._clock()))

    async def end(self, call_id: str, reason: str = "") -> Ticket:
        return await self._move(call_id, lambda t: t.end(now=self._clock(), reason=reason))

    async def resume(self, call_id: str) -> TicketStatus | None:
        st = await self.status(call_id)
        return st if st is not None and st.ticket.live else None

    async def staffed(self, queue: str) -> int:
        sups = await self.load_presence()
        return routing.staffed(
            sups.values(), self.queue_directory.get(queue), now=self._clock(),
            heartbeat_ttl_s=self.heartbeat_ttl_s,
        )

    # --- the supervisors' side -------------------------------------------------------------

    async def heartbeat(self, presence: Presence) -> Presence:
        now = self._clock()
        key = self.k("s", presence.supervisor_id)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={**presence_fields(presence), "hb": repr(now)})
            pipe.hsetnx(key, "load", "0")
            pipe.hsetnx(key, "idle_since", repr(now))
            pipe.pexpire(key, self.retention_ms)
            pipe.zadd(self.k("sups"), {presence.supervisor_id: now})
            pipe.hgetall(key)
            *_, raw = await pipe.execute()
        await self.poke()
        p = presence_from_hash(presence.supervisor_id, raw)
        assert p is not None  # just written in the same transaction
        return p

    async def set_status(self, supervisor_id: str, status: SupervisorStatus) -> Presence:
        status = SupervisorStatus(status)
        old = await self.load_one_presence(supervisor_id) or Presence(supervisor_id)
        now = self._clock()
        fresh = Presence(supervisor_id, status, old.capacity, old.skills)
        p = await self.heartbeat(fresh)
        if status is not old.status:
            await self._r.hset(self.k("s", supervisor_id), "idle_since", repr(now))
            p = Presence(p.supervisor_id, p.status, p.capacity, p.skills, p.last_heartbeat,
                         p.load, now)
        return p

    async def next_offer(self, supervisor_id: str, timeout: float) -> Offer | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        rung = await self._ring.watch(supervisor_id)
        try:
            while True:
                rung.clear()  # before looking: a ring during the look makes us look again
                offer = await self.pop_open_offer(supervisor_id)
                left = deadline - loop.time()
                if offer is not None or left <= 0:
                    return offer
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(rung.wait(), min(left, self._ring.fallback_s))
        finally:
            self._ring.unwatch(supervisor_id, rung)

    async def accept(self, offer_id: str, supervisor_id: str) -> Ticket | None:
        for _ in range(_RETRIES):
            offer = await self.open_offer(offer_id, supervisor_id)
            now = self._clock()
            if offer is None or offer.expires_at <= now:
                return None
            after = offer.ticket.connect(supervisor_id, now=now)
            if await self.commit(offer.ticket, after):
                return after
        return None

    async def decline(self, offer_id: str, supervisor_id: str) -> bool:
        for _ in range(_RETRIES):
            offer = await self.open_offer(offer_id, supervisor_id)
            if offer is None:
                return False
            if await self.commit(offer.ticket, offer.ticket.withdraw_offer()):
                return True
        return False

    async def take(self, call_id: str, supervisor_id: str) -> Ticket | None:
        for _ in range(_RETRIES):
            t = await self.load_ticket(call_id)
            p = await self.load_one_presence(supervisor_id)
            if t is None or not t.in_queue or p is None:
                return None
            own = t.offered_to == supervisor_id
            need = routing.required_skills(t, self.queue_directory.get(t.queue))
            if not own and not p.has_skills(need):
                return None
            after = t.connect(supervisor_id, now=self._clock())
            tx = self.tx_for(t, after)
            if not own:
                tx.spare(self.k("s", supervisor_id))
            if await self.txs.run(tx):
                return after
            if (await self.load_one_presence(supervisor_id) or p).load >= p.capacity and not own:
                return None
        return None

    # --- routing ---------------------------------------------------------------------------

    async def route_once(self) -> list[Offer]:
        now = self._clock()
        tickets, sups = await self.snapshot()
        current = {t.call_id: t for t in tickets}
        changed = False
        for t in routing.overdue(tickets, now=now):
            changed |= await self.commit(t, t.leave(S.TIMED_OUT, now=now, reason="timeout"))
            current.pop(t.call_id)
        withdraw = routing.offers_to_withdraw(
            current.values(), sups, now=now, heartbeat_ttl_s=self.heartbeat_ttl_s
        )
        for t in withdraw:
            after = t.withdraw_offer()
            if await self.commit(t, after):
                current[t.call_id] = after
                changed = True
            else:
                current.pop(t.call_id)  # someone else moved it; the next pass sees it
        if changed:
            sups = await self.load_presence()
        plan = routing.plan(
            current.values(), sups.values(), self.queue_directory, now=now,
            heartbeat_ttl_s=self.heartbeat_ttl_s,
        )
        return await self.make_offers(plan, now=now, min_heartbeat=now - self.heartbeat_ttl_s)

    async def wait_for_work(self, timeout: float) -> None:
        await self._r.blpop([self.k("wake")], timeout=max(0.01, min(timeout, _BLOCK_S)))

    async def aclose(self) -> None:
        await self._ring.aclose()
        await self._poller.aclose()
        await self._status_reads.aclose()
        await self._arrivals.aclose()
        await self.txs.aclose()
        await self.pops.aclose()
        await self.batch.aclose()
        if self._owns:
            await self._r.aclose()
            await self._r.connection_pool.disconnect()

    def new_offer_id(self) -> str:
        return uuid.uuid4().hex[:16]
