"""Broker contract, the atomic claim: two supervisors racing for one call, one winner."""

from __future__ import annotations

import asyncio

from callcenter.escalation import EscalationBroker, SupervisorStatus, TicketState
from tests.escalation.helpers import FakeClock, call, online

S = TicketState
ROUNDS = 200


async def _loads(broker: EscalationBroker) -> dict[str, int]:
    return {p.supervisor_id: p.load for p in await broker.supervisors()}


async def test_accept_racing_a_console_take_has_exactly_one_winner(broker: EscalationBroker):
    await online(broker, "a", capacity=ROUNDS)
    await online(broker, "b", capacity=ROUNDS)
    await asyncio.gather(*(broker.enqueue(call(f"c{i}")) for i in range(ROUNDS)))
    offers = await broker.route_once()
    assert len(offers) == ROUNDS

    def rival(sup: str) -> str:
        return "b" if sup == "a" else "a"

    # Per call: the offered supervisor accepts while the other takes it from the list.
    results = await asyncio.gather(*(
        asyncio.gather(
            broker.accept(o.offer_id, o.supervisor_id),
            broker.take(o.call_id, rival(o.supervisor_id)),
        )
        for o in offers
    ))
    winners: dict[str, int] = {"a": 0, "b": 0}
    for o, (accepted, taken) in zip(offers, results, strict=True):
        won = [t for t in (accepted, taken) if t is not None]
        assert len(won) == 1, f"{o.call_id}: {len(won)} winners"
        stored = (await broker.status(o.call_id)).ticket  # type: ignore[union-attr]
        assert stored.state is S.CONNECTED and stored.supervisor == won[0].supervisor
        winners[won[0].supervisor or ""] += 1
    assert sum(winners.values()) == ROUNDS
    assert await _loads(broker) == winners  # no capacity leaked or double counted


async def test_two_takers_for_each_call_have_exactly_one_winner(broker: EscalationBroker):
    for sup in ("a", "b"):
        await online(broker, sup, capacity=ROUNDS)
        await broker.set_status(sup, SupervisorStatus.BUSY)  # picking from the list only
    await asyncio.gather(*(broker.enqueue(call(f"c{i}")) for i in range(ROUNDS)))
    results = await asyncio.gather(*(
        asyncio.gather(broker.take(f"c{i}", "a"), broker.take(f"c{i}", "b"))
        for i in range(ROUNDS)
    ))
    assert all(sum(t is not None for t in pair) == 1 for pair in results)
    loads = await _loads(broker)
    assert loads["a"] + loads["b"] == ROUNDS


async def test_take_needs_spare_capacity_and_the_skill(broker: EscalationBroker):
    await online(broker, "a")
    await online(broker, "biller", skills={"billing"})
    await broker.enqueue(call("x"))
    await broker.enqueue(call("y"))
    await broker.enqueue(call("bill", queue="billing"))
    assert await broker.take("bill", "a") is None
    assert await broker.take("x", "a") is not None
    assert await broker.take("y", "a") is None  # capacity 1 is used
    assert await broker.take("x", "biller") is None  # already connected


async def test_late_accept_loses_to_the_reoffer(broker: EscalationBroker, clock: FakeClock):
    await online(broker, "a")
    await online(broker, "b")
    for i in range(20):
        await broker.enqueue(call(f"x{i}"))
        [first] = await broker.route_once()
        clock.advance(11)  # past the accept timeout
        await online(broker, "a")
        await online(broker, "b")
        [second] = await broker.route_once()
        late, fresh = await asyncio.gather(
            broker.accept(first.offer_id, first.supervisor_id),
            broker.accept(second.offer_id, second.supervisor_id),
        )
        assert late is None and fresh is not None
        await broker.end(f"x{i}")
    assert set((await _loads(broker)).values()) == {0}
