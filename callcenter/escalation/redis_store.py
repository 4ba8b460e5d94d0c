"""Reads and atomic writes under the Redis broker: keys, snapshots, and one Tx per move."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis

from callcenter.escalation import routing
from callcenter.escalation.load import load_changes, newly_answered
from callcenter.escalation.offers import Offer
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.redis_batch import CommandBatch, TurnGather
from callcenter.escalation.redis_codec import (
    TICKET_FIELDS,
    presence_from_hash,
    ticket_from_hash,
    ticket_to_hash,
)
from callcenter.escalation.redis_snapshot import parse_snapshot, register_snapshot, snapshot_args
from callcenter.escalation.redis_tx import Tx, TxQueue, register
from callcenter.escalation.tickets import Ticket, TicketState

_INBOX_KEPT = 100
_OFFER_KEY_GRACE_S = 60.0  # the offer key outlives the offer so a late accept reads "gone"


# Pop one ring ("<offer id> <call id>") from each inbox and read its ticket's fields in
# the same step: every supervisor rung at once looks at their inbox in one call.
_POP_RINGS = """
local out = {}
for i, inbox in ipairs(KEYS) do
  local ring = redis.call('LPOP', inbox)
  if not ring then
    out[i] = false
  else
    local call = string.match(ring, ' (.+)$')
    if not call then
      out[i] = {ring}
    else
      local h = redis.call('HMGET', ARGV[1] .. call, 'version', 'state', 'data')
      out[i] = {ring, h[1], h[2], h[3]}
    end
  end
end
return out
"""


def _still_open(t: Ticket | None, offer_id: str, supervisor_id: str) -> Offer | None:
    if t is None or t.state is not TicketState.OFFERED:
        return None
    if t.offer_id != offer_id or t.offered_to != supervisor_id:
        return None
    return Offer.of(t)


class RedisTickets:
    """The storage half of the Redis broker (the contract lives in redis_broker)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        clock: Callable[[], float],
        retention_s: float = 24 * 3600.0,
        answers_kept: int = 20,
    ) -> None:
        if not client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisEscalationBroker needs a client with decode_responses=True")
        # redis-py types replies as bytes | str; this client decodes, so they are str.
        self._r: Any = client
        self._p = prefix
        self._clock = clock
        self.retention_ms = int(retention_s * 1000)
        self._answers_kept = answers_kept
        self._apply = register(client)
        self._snapshot_script = register_snapshot(client)
        self._pop_rings = client.register_script(_POP_RINGS)
        # Single reads and moves go through one batch: a burst shares a pipeline.
        self.batch = CommandBatch(client)
        # Moves go through one queue: the moves of a burst share one script call.
        self.txs = TxQueue(self.batch, self._apply)
        self.pops: TurnGather[str, list[Any] | None] = TurnGather(self._pop_many)

    def k(self, kind: str, name: str = "") -> str:
        return f"{self._p}esc:{kind}:{name}" if name else f"{self._p}esc:{kind}"

    def new_offer_id(self) -> str:
        raise NotImplementedError

    # --- reads -----------------------------------------------------------------------------

    async def load_ticket(self, call_id: str) -> Ticket | None:
        raw: dict[str, str] = await self.batch.call("HGETALL", self.k("t", call_id))
        return ticket_from_hash(raw)

    async def load_one_presence(self, supervisor_id: str) -> Presence | None:
        raw: dict[str, str] = await self.batch.call("HGETALL", self.k("s", supervisor_id))
        return presence_from_hash(supervisor_id, raw)

    async def load_presence(self) -> dict[str, Presence]:
        _, sups = await self._snapshot(with_tickets=False)
        return sups

    async def snapshot(self) -> tuple[list[Ticket], dict[str, Presence]]:
        """Every queued ticket (in queue order) and every known supervisor, in one read;
        decisions taken on it are still applied with guards."""
        return await self._snapshot(with_tickets=True)

    async def _snapshot(self, *, with_tickets: bool) -> tuple[list[Ticket], dict[str, Presence]]:
        reply = await self.batch.script(
            self._snapshot_script, [self.k("queues"), self.k("sups")],
            snapshot_args(self.k(""), with_tickets),
        )
        rows, sup_rows = parse_snapshot(reply)
        tickets = [t for t in map(ticket_from_hash, rows) if t is not None]
        out, gone = {}, []
        for sup_id, raw in sup_rows:
            p = presence_from_hash(sup_id, raw)
            if p is None:
                gone.append(sup_id)  # its hash expired long after its last heartbeat
            else:
                out[sup_id] = p
        if gone:
            await self._r.zrem(self.k("sups"), *gone)
        return tickets, out

    async def open_offer(
        self, offer_id: str, supervisor_id: str, call_id: str | None = None
    ) -> Offer | None:
        """The offer if it is still open for this supervisor."""
        if call_id is None:
            call_id = await self.batch.call("GET", self.k("o", offer_id))
        t = None if call_id is None else await self.load_ticket(call_id)
        return _still_open(t, offer_id, supervisor_id)

    async def pop_open_offer(self, supervisor_id: str) -> Offer | None:
        """The first still-open offer in the supervisor's inbox; stale rings (withdrawn,
        taken) are dropped on the way. Each ring is popped and its ticket read in one
        script, shared by every supervisor looking at the same moment."""
        inbox = self.k("inbox", supervisor_id)
        while True:
            reply = await self.pops.run(inbox)
            if reply is None:
                return None
            ring, *values = reply
            offer_id, _, _call = str(ring).partition(" ")
            raw = {f: v for f, v in zip(TICKET_FIELDS, values, strict=False) if v is not None}
            offer = _still_open(ticket_from_hash(raw), offer_id, supervisor_id)
            if offer is not None:
                return offer

    async def _pop_many(self, inboxes: list[str]) -> list[list[Any] | None]:
        replies = await self.batch.script(self._pop_rings, inboxes, [self.k("t", "") + ":"])
        return [r if r else None for r in replies]

    async def recent_answers(self, queues: Iterable[str]) -> dict[str, list[float]]:
        names = sorted(set(queues))
        out: defaultdict[str, list[float]] = defaultdict(list)
        if not names:
            return out
        async with self._r.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.lrange(self.k("ans", name), 0, -1)
            lists: list[list[str]] = await pipe.execute()
        for name, values in zip(names, lists, strict=True):
            out[name] = [float(v) for v in values]
        return out

    # --- writes ----------------------------------------------------------------------------

    def tx_for(self, before: Ticket | None, after: Ticket, expect: str | None = None) -> Tx:
        """The Tx for one move: CAS on the ticket version (`expect` overrides it, for a hash
        this code cannot read), plus every write it implies."""
        now = self._clock()
        tk = self.k("t", after.call_id)
        if expect is None:
            expect = str(before.version) if before else ""
        tx = Tx().eq(tk, "version", expect)
        tx.hset(tk, ticket_to_hash(after))
        if before is not None and before.queue != after.queue:
            tx.op("zrem", self.k("q", before.queue), after.call_id)
        if after.in_queue:
            tx.op("zadd", self.k("q", after.queue), repr(routing.queue_score(after)), after.call_id)
            tx.op("sadd", self.k("queues"), after.queue)
        else:
            tx.op("zrem", self.k("q", after.queue), after.call_id)
        # A live ticket never expires (nothing lost); a finished one is kept for a while.
        if after.live:
            tx.op("persist", tk)
        else:
            tx.op("pexpire", tk, self.retention_ms)
        for ch in load_changes(before, after):
            tx.op("load", self.k("s", ch.supervisor_id), ch.delta,
                  repr(now) if ch.idle_from_now else "")
        if newly_answered(before, after) and after.answered_at is not None:
            tx.op("push", self.k("ans", after.queue), repr(after.answered_at), self._answers_kept)
        if before is not None and before.offer_id and before.offer_id != after.offer_id:
            tx.op("del", self.k("o", before.offer_id))
        new_offer = before is None or before.offer_id != after.offer_id
        if after.offer_id and after.offered_to and new_offer:
            ttl_ms = int(((after.offer_expires_at or now) - now + _OFFER_KEY_GRACE_S) * 1000)
            tx.op("setpx", self.k("o", after.offer_id), after.call_id, max(ttl_ms, 1000))
            # The inbox push and its announcement are in the same step as the offer: no
            # offer without its ring (redis_ring).
            ring = f"{after.offer_id} {after.call_id}"  # saves next_offer a lookup
            tx.op("ring", self.k("inbox", after.offered_to), ring, _INBOX_KEPT,
                  self.k("ring"), after.offered_to)
        if after.state is TicketState.WAITING:
            tx.op("push", self.k("wake"), "1", 1)
        return tx

    async def commit(
        self, before: Ticket | None, after: Ticket, expect: str | None = None
    ) -> bool:
        return await self.txs.run(self.tx_for(before, after, expect))

    async def make_offers(
        self, plan: list[routing.Assignment], *, now: float, min_heartbeat: float
    ) -> list[Offer]:
        """Apply a routing plan in one script call (TxQueue); each offer is guarded on
        its own. Not redis-py's pipeline with scripts: that asks SCRIPT EXISTS first on
        every pass, a round trip between the calls' arrival and their supervisors' ring."""
        if not plan:
            return []
        made: list[Offer] = []
        txs: list[Tx] = []
        for a in plan:
            after = a.ticket.offer(
                self.new_offer_id(), a.supervisor_id, now=now,
                expires_at=now + a.accept_timeout_s,
            )
            sk = self.k("s", a.supervisor_id)
            tx = self.tx_for(a.ticket, after)
            tx.spare(sk).at_least(sk, "hb", min_heartbeat)
            tx.eq(sk, "status", SupervisorStatus.AVAILABLE.value)
            txs.append(tx)
            made.append(Offer.of(after))  # type: ignore[arg-type]
        results = await asyncio.gather(*(self.txs.run(tx) for tx in txs))
        return [o for o, ok in zip(made, results, strict=True) if ok]

    async def poke(self) -> None:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.rpush(self.k("wake"), "1")
            pipe.ltrim(self.k("wake"), -1, -1)
            await pipe.execute()
