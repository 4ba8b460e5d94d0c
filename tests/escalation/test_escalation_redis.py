"""Redis broker only: a second instance sees the same queue; the guarded step is a CAS."""

from __future__ import annotations

import asyncio

from callcenter.escalation import TicketState
from tests.escalation.conftest import Make
from tests.escalation.helpers import call, online

S = TicketState


async def test_second_instance_resumes_a_waiting_ticket_with_its_place(make_redis: Make):
    first = await make_redis()
    for i in range(3):
        await first.enqueue(call(f"c{i}"))
    before = await first.status("c1")
    await first.aclose()  # the worker died

    second = await make_redis()  # a new connection, same prefix
    resumed = await second.resume("c1")
    assert resumed is not None and before is not None
    assert resumed.position == 2 and resumed.ticket.seq == before.ticket.seq
    again = await second.enqueue(call("c1"))  # the new worker re-runs the escalate node
    assert again.seq == before.ticket.seq
    await online(second, "sup")
    [offer] = await second.route_once()
    assert offer.call_id == "c0"


async def test_two_instances_routing_at_once_never_double_offer(make_redis: Make):
    a, b = await make_redis(), await make_redis()
    for i in range(5):
        await online(a, f"s{i}")
    for i in range(30):
        await a.enqueue(call(f"c{i}"))
    made_a, made_b = await asyncio.gather(a.route_once(), b.route_once())
    offered = [o.call_id for o in made_a + made_b]
    assert len(offered) == 5 and len(set(offered)) == 5
    assert {p.load for p in await b.supervisors()} == {1}


async def test_a_stale_write_is_refused_by_the_version_guard(make_redis: Make):
    from callcenter.escalation.redis_broker import RedisEscalationBroker

    broker = await make_redis()
    assert isinstance(broker, RedisEscalationBroker)
    await online(broker, "a")
    await online(broker, "b")
    t = await broker.enqueue(call("x"))
    # Both writers start from the same read; Redis runs one script at a time.
    results = await asyncio.gather(
        broker.commit(t, t.connect("a", now=1.0)), broker.commit(t, t.connect("b", now=1.0))
    )
    assert sorted(results) == [False, True]
    loads = {p.supervisor_id: p.load for p in await broker.supervisors()}
    assert sorted(loads.values()) == [0, 1]
