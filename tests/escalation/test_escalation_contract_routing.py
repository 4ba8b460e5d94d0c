"""Broker contract, routing: order, idle time, skills, capacity, presence, re-offers."""

from __future__ import annotations

import asyncio
import random

from callcenter.escalation import EscalationBroker, Presence, SupervisorStatus, TicketState
from tests.escalation.conftest import Make
from tests.escalation.helpers import TTL_S, FakeClock, call, online

S = TicketState


async def _serve_one(broker: EscalationBroker, sup: str) -> str:
    [offer] = await broker.route_once()
    assert offer.supervisor_id == sup
    assert await broker.accept(offer.offer_id, sup) is not None
    await broker.end(offer.call_id)
    return offer.call_id


async def test_highest_priority_then_longest_waiting_is_offered_first(broker: EscalationBroker):
    await online(broker, "sup")
    for cid, prio in [("n1", 1), ("low", 0), ("h1", 2), ("n2", 1), ("h2", 2)]:
        await broker.enqueue(call(cid, priority=prio))
    served = [await _serve_one(broker, "sup") for _ in range(5)]
    assert served == ["h1", "h2", "n1", "n2", "low"]


async def test_queue_priority_breaks_ties_between_queues(broker: EscalationBroker):
    await online(broker, "sup")
    await broker.enqueue(call("plain"))
    await broker.enqueue(call("vip", queue="vip"))
    assert await _serve_one(broker, "sup") == "vip"


async def test_longest_idle_free_supervisor_gets_the_call(
    broker: EscalationBroker, clock: FakeClock
):
    await online(broker, "early")
    clock.advance(5)
    await online(broker, "late")
    await broker.enqueue(call("a"))
    [offer] = await broker.route_once()
    assert offer.supervisor_id == "early"
    await broker.accept(offer.offer_id, "early")
    clock.advance(5)
    await broker.end("a")  # early's idle time starts again now: late has waited longer
    await broker.enqueue(call("b"))
    [offer] = await broker.route_once()
    assert offer.supervisor_id == "late"


async def test_only_supervisors_with_the_skill_are_offered_and_others_keep_routing(
    broker: EscalationBroker,
):
    await online(broker, "generalist")
    await broker.enqueue(call("bill", queue="billing", priority=3))
    await broker.enqueue(call("help"))
    [offer] = await broker.route_once()
    assert (offer.call_id, offer.supervisor_id) == ("help", "generalist")
    await online(broker, "biller", skills={"billing"})
    [offer] = await broker.route_once()
    assert (offer.call_id, offer.supervisor_id) == ("bill", "biller")


async def test_capacity_bounds_open_offers_and_calls(broker: EscalationBroker):
    await online(broker, "sup", capacity=2)
    for i in range(3):
        await broker.enqueue(call(f"c{i}"))
    offers = await broker.route_once()
    assert [o.call_id for o in offers] == ["c0", "c1"]
    assert await broker.route_once() == []
    await broker.accept(offers[0].offer_id, "sup")
    await broker.end("c0")
    [offer] = await broker.route_once()
    assert offer.call_id == "c2"


async def test_busy_and_away_supervisors_are_not_offered(broker: EscalationBroker):
    await broker.heartbeat(Presence("b", status=SupervisorStatus.BUSY))
    await broker.heartbeat(Presence("w", status=SupervisorStatus.AWAY))
    await broker.enqueue(call("a"))
    assert await broker.route_once() == []
    await broker.set_status("b", SupervisorStatus.AVAILABLE)
    [offer] = await broker.route_once()
    assert offer.supervisor_id == "b"


async def test_supervisor_whose_heartbeat_stops_is_no_longer_offered_calls(
    broker: EscalationBroker, clock: FakeClock
):
    await online(broker, "silent")  # idle the longest: would be first
    clock.advance(1)
    await online(broker, "alive")
    clock.advance(TTL_S)
    await online(broker, "alive")  # silent missed its heartbeats
    for i in range(3):
        await broker.enqueue(call(f"c{i}"))
        [offer] = await broker.route_once()
        assert offer.supervisor_id == "alive"
        await broker.accept(offer.offer_id, "alive")
        await broker.end(offer.call_id)
    status = {p.supervisor_id: p.status for p in await broker.supervisors()}
    assert status == {"silent": SupervisorStatus.AWAY, "alive": SupervisorStatus.AVAILABLE}


async def test_open_offer_of_a_silent_supervisor_goes_to_another(
    broker: EscalationBroker, clock: FakeClock
):
    await online(broker, "a")
    await broker.enqueue(call("x"))
    [first] = await broker.route_once()
    clock.advance(TTL_S + 1)  # a dies with the offer ringing
    await online(broker, "b")
    [second] = await broker.route_once()
    assert (second.call_id, second.supervisor_id) == ("x", "b")
    assert await broker.accept(first.offer_id, "a") is None


async def test_offer_timeout_reoffers_to_another_supervisor(
    broker: EscalationBroker, clock: FakeClock
):
    await online(broker, "a")
    clock.advance(1)
    await online(broker, "b", capacity=1)
    await broker.enqueue(call("x"))
    [first] = await broker.route_once()
    assert first.supervisor_id == "a"
    clock.advance(10.5)  # the queue's accept timeout is 10 s
    await online(broker, "a")
    await online(broker, "b")
    [second] = await broker.route_once()
    assert second.supervisor_id == "b" and second.offer_id != first.offer_id
    assert await broker.accept(first.offer_id, "a") is None  # too late
    won = await broker.accept(second.offer_id, "b")
    assert won is not None and won.declined_by == ("a",)


async def test_decline_reoffers_to_someone_else_first_then_back(broker: EscalationBroker):
    await online(broker, "a")
    await broker.enqueue(call("x"))
    [first] = await broker.route_once()
    assert await broker.decline(first.offer_id, "a") is True
    assert await broker.decline(first.offer_id, "a") is False  # already gone
    assert (await broker.status("x")).position == 1  # type: ignore[union-attr]
    [again] = await broker.route_once()
    assert again.supervisor_id == "a"  # nobody else is free: back to the decliner
    await broker.decline(again.offer_id, "a")
    await online(broker, "b")
    [other] = await broker.route_once()
    assert other.supervisor_id == "b"


async def test_next_offer_rings_the_offered_supervisor_only(broker: EscalationBroker):
    await online(broker, "a")
    assert await broker.next_offer("a", 0.05) is None
    ringing = asyncio.ensure_future(broker.next_offer("a", 5.0))
    await broker.enqueue(call("x", reason="wants a refund", context={"name": "Ann"}))
    await broker.route_once()
    offer = await ringing
    assert offer is not None and offer.call_id == "x" and offer.ticket.context == {"name": "Ann"}
    assert offer.ticket.reason == "wants a refund"
    assert await broker.next_offer("b", 0.05) is None


async def test_fifty_escalations_to_five_supervisors_in_priority_then_arrival_order(
    make_broker: Make,
):
    broker = await make_broker()
    sups = [f"s{i}" for i in range(5)]
    for s in sups:
        await online(broker, s)
    rng = random.Random(7)
    prios = [rng.choice([0, 1, 2, 3]) for _ in range(50)]
    await asyncio.gather(*(broker.enqueue(call(f"c{i}", priority=p)) for i, p in enumerate(prios)))
    tickets = {t.ticket.call_id: t.ticket for t in await broker.waiting()}
    expected = sorted(tickets, key=lambda c: (-tickets[c].priority, tickets[c].seq))
    served: list[str] = []
    while len(served) < 50:
        offers = await broker.route_once()
        assert len(offers) == 5 or len(served) + len(offers) == 50
        served += [o.call_id for o in offers]
        await asyncio.gather(*(broker.accept(o.offer_id, o.supervisor_id) for o in offers))
        await asyncio.gather(*(broker.end(o.call_id) for o in offers))
    assert served == expected
    assert {p.load for p in await broker.supervisors()} == {0}
