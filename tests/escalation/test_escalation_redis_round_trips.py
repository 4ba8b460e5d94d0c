"""The Redis broker shares its Redis calls between the calls and supervisors of a burst:
a burst's moves are one script call, supervisors rung together pop their inboxes in one,
and waiting calls are watched by one poller instead of one poll each. Counted, not timed."""

from __future__ import annotations

import asyncio

from callcenter.escalation import Presence, Ticket
from callcenter.escalation.redis_broker import RedisEscalationBroker
from tests.escalation.conftest import Make

N = 30


async def _redis(make: Make) -> RedisEscalationBroker:
    broker = await make()
    assert isinstance(broker, RedisEscalationBroker)
    return broker


async def test_a_burst_of_escalations_commits_in_one_script_call(make_redis: Make) -> None:
    broker = await _redis(make_redis)
    before = broker.txs.calls
    await asyncio.gather(*(broker.enqueue(Ticket(f"c{i}", "support")) for i in range(N)))
    assert broker.txs.calls - before == 1
    waiting = await broker.waiting("support")
    assert [s.ticket.call_id for s in waiting] == [f"c{i}" for i in range(N)]
    assert [s.position for s in waiting] == list(range(1, N + 1))


async def test_supervisors_rung_together_pop_their_inboxes_together(make_redis: Make) -> None:
    broker = await _redis(make_redis)
    sups = [f"s{i:02d}" for i in range(N)]
    await asyncio.gather(*(broker.heartbeat(Presence(s)) for s in sups))
    rings = [asyncio.ensure_future(broker.next_offer(s, 10.0)) for s in sups]
    await asyncio.sleep(0.2)  # every supervisor is listening
    before = broker.pops.sends
    await asyncio.gather(*(broker.enqueue(Ticket(f"c{i}", "support")) for i in range(N)))
    offers = await broker.route_once()
    got = await asyncio.gather(*rings)
    assert len(offers) == N and sorted(o.call_id for o in got if o) == sorted(
        o.call_id for o in offers)
    # The ring messages may arrive in a few reads of the subscription, never one each.
    assert broker.pops.sends - before < N // 3, broker.pops.sends - before


async def test_waiting_calls_share_one_poller_and_hear_their_new_place(
    make_redis: Make,
) -> None:
    broker = await _redis(make_redis)
    await asyncio.gather(*(broker.enqueue(Ticket(f"c{i}", "support")) for i in range(N)))
    last = {s.ticket.call_id: s for s in await broker.waiting("support")}
    # 0.15 s at the suite's 10 ms poll: at most ~15 reads, against one read per call per poll.
    quiet = [broker.wait_update(f"c{i}", 0.15, last[f"c{i}"]) for i in range(1, N)]
    front = asyncio.ensure_future(broker.wait_update("c1", 10.0, last["c1"]))
    nothing = await asyncio.gather(*quiet)  # nothing moved: each times out unchanged
    assert [s.position for s in nothing if s] == list(range(2, N + 1))
    reads = broker._poller.reads
    assert 0 < reads < N, f"{reads} polling reads for {N} waiting calls"
    await broker.cancel("c0", "caller_hangup")  # the call ahead leaves: c1 moves up
    moved = await asyncio.wait_for(front, 5.0)
    assert moved is not None and moved.position == 1
