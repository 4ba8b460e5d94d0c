"""Broker contract, the call's side: queue place, estimates, cancel, hand-back, updates."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.escalation import (
    EscalationBroker,
    IllegalTransition,
    SupervisorStatus,
    TicketState,
    UnknownTicket,
)
from tests.escalation.helpers import FakeClock, call, online

S = TicketState


async def test_enqueue_gives_each_call_its_place_in_its_own_queue(broker: EscalationBroker):
    for i in range(3):
        await broker.enqueue(call(f"s{i}"))
    await broker.enqueue(call("b0", queue="billing"))
    positions = [(await broker.status(f"s{i}")).position for i in range(3)]  # type: ignore[union-attr]
    assert positions == [1, 2, 3]
    billing = await broker.status("b0")
    assert billing is not None and billing.position == 1 and billing.state is S.WAITING
    assert billing.expected_wait_s is None  # no answers yet: no made-up estimate


async def test_higher_priority_goes_ahead_of_earlier_arrivals(broker: EscalationBroker):
    await broker.enqueue(call("n1"))
    await broker.enqueue(call("n2"))
    await broker.enqueue(call("urgent", priority=3))
    assert (await broker.status("urgent")).position == 1  # type: ignore[union-attr]
    assert (await broker.status("n2")).position == 3  # type: ignore[union-attr]


async def test_enqueue_again_keeps_the_same_ticket_and_place(broker: EscalationBroker):
    first = await broker.enqueue(call("a"))
    await broker.enqueue(call("b"))
    again = await broker.enqueue(call("b", priority=3))  # a restarted worker re-enqueues
    assert again.priority == 1 and (await broker.status("b")).position == 2  # type: ignore[union-attr]
    assert (await broker.enqueue(call("a"))).seq == first.seq


async def test_expected_wait_is_place_times_recent_answer_interval(
    broker: EscalationBroker, clock: FakeClock
):
    for name in ("a", "b"):
        await online(broker, "sup")
        await broker.enqueue(call(name))
        [offer] = await broker.route_once()
        assert await broker.accept(offer.offer_id, "sup") is not None
        await broker.end(name)
        clock.advance(30)
    await broker.set_status("sup", SupervisorStatus.BUSY)
    await broker.enqueue(call("c"))
    await broker.enqueue(call("d"))
    st = await broker.status("d")
    assert st is not None and st.position == 2 and st.expected_wait_s == 60.0


async def test_caller_hangup_abandons_with_the_wait_recorded_and_moves_the_line(
    broker: EscalationBroker, clock: FakeClock
):
    await broker.enqueue(call("a"))
    await broker.enqueue(call("b"))
    clock.advance(12)
    gone = await broker.cancel("a", "caller_hangup")
    assert gone.state is S.ABANDONED and gone.wait_s() == 12.0
    assert (await broker.status("b")).position == 1  # type: ignore[union-attr]
    assert (await broker.cancel("a", "caller_hangup")).state is S.ABANDONED  # idempotent
    assert await broker.resume("a") is None


async def test_flow_timeout_and_the_brokers_own_deadline_time_out(
    broker: EscalationBroker, clock: FakeClock
):
    await broker.enqueue(call("flow"))
    assert (await broker.cancel("flow", "timeout")).state is S.TIMED_OUT
    await broker.enqueue(call("orphan", timeout_s=30.0))  # its worker never comes back
    clock.advance(31)
    await broker.route_once()
    t = (await broker.status("orphan")).ticket  # type: ignore[union-attr]
    assert t.state is S.TIMED_OUT and t.end_reason == "timeout"


async def test_connected_call_hands_back_then_ends_and_frees_the_supervisor(
    broker: EscalationBroker,
):
    await online(broker, "sup")
    await broker.enqueue(call("a"))
    [offer] = await broker.route_once()
    assert offer.supervisor_id == "sup" and offer.ticket.call_id == "a"
    taken = await broker.accept(offer.offer_id, "sup")
    assert taken is not None and taken.state is S.CONNECTED and taken.supervisor == "sup"
    st = await broker.status("a")
    assert st is not None and st.position is None and st.supervisor == "sup"
    with pytest.raises(IllegalTransition):
        await broker.cancel("a", "caller_hangup")
    assert (await broker.returned("a")).state is S.RETURNED
    assert (await broker.end("a")).state is S.ENDED
    [sup] = await broker.supervisors()
    assert sup.load == 0
    await broker.enqueue(call("a"))  # a second escalation of the same call starts over
    assert (await broker.status("a")).state is S.WAITING  # type: ignore[union-attr]


async def test_illegal_moves_and_unknown_calls_raise_typed_errors(broker: EscalationBroker):
    await broker.enqueue(call("a"))
    with pytest.raises(IllegalTransition):
        await broker.returned("a")
    with pytest.raises(IllegalTransition):
        await broker.end("a")
    with pytest.raises(UnknownTicket):
        await broker.end("nobody")
    assert await broker.status("nobody") is None


async def test_wait_update_reports_offer_then_connect(broker: EscalationBroker):
    await online(broker, "sup")
    await broker.enqueue(call("a"))
    first = await broker.wait_update("a", 1.0)
    assert first is not None and first.state is S.WAITING
    waiter = asyncio.ensure_future(broker.wait_update("a", 5.0, first))
    await asyncio.sleep(0.02)
    [offer] = await broker.route_once()
    offered = await waiter
    assert offered is not None and offered.state is S.OFFERED
    waiter = asyncio.ensure_future(broker.wait_update("a", 5.0, offered))
    await broker.accept(offer.offer_id, "sup")
    connected = await waiter
    assert connected is not None and connected.supervisor == "sup"


async def test_wait_update_returns_the_current_status_after_the_timeout(
    broker: EscalationBroker,
):
    await broker.enqueue(call("a"))
    first = await broker.status("a")
    same = await broker.wait_update("a", 0.05, first)
    assert same is not None and same.position == 1
    assert await broker.wait_update("nobody", 0.01) is None


async def test_nobody_staffed_means_nobody_can_answer(broker: EscalationBroker):
    assert await broker.staffed("support") == 0
    await online(broker, "sup")
    assert await broker.staffed("support") == 1
    assert await broker.staffed("billing") == 0  # lacks the skill
    await broker.set_status("sup", SupervisorStatus.AWAY)
    assert await broker.staffed("support") == 0
