"""The session's port: NoSupervisors, and QueueEscalation over a real broker and routing."""

from __future__ import annotations

import asyncio

from callcenter.escalation import (
    InProcessEscalationBroker,
    NoSupervisors,
    QueueEscalation,
    TicketState,
    TicketStatus,
    run_routing,
)
from callcenter.flow.actions import Escalate
from tests.escalation.helpers import QUEUES, online


async def test_no_supervisors_answers_unavailable_at_once():
    result = await NoSupervisors().request("c1", Escalate(queue="support"))
    assert result.outcome == "unavailable"


async def test_queue_escalation_with_nobody_staffed_is_unavailable():
    broker = InProcessEscalationBroker(QUEUES)
    result = await QueueEscalation(broker).request("c1", Escalate(queue="support"))
    assert result.outcome == "unavailable" and await broker.status("c1") is None


async def test_queue_escalation_connects_when_a_supervisor_accepts():
    broker = InProcessEscalationBroker(QUEUES)
    await online(broker, "sup")
    updates: list[TicketStatus] = []

    async def seen(st: TicketStatus) -> None:
        updates.append(st)

    stop = asyncio.Event()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.02, stop=stop))
    port = QueueEscalation(broker, update_s=0.05, on_update=seen)
    request = asyncio.ensure_future(
        port.request("c1", Escalate(queue="support", priority="high", summary={"n": "Ann"}))
    )
    offer = await broker.next_offer("sup", 2.0)
    assert offer is not None and offer.ticket.priority == 2
    assert offer.ticket.context == {"summary": {"n": "Ann"}}
    await broker.accept(offer.offer_id, "sup")
    result = await asyncio.wait_for(request, 2.0)
    assert (result.outcome, result.supervisor) == ("connected", "sup")
    assert updates and updates[0].state is TicketState.WAITING
    stop.set()
    await asyncio.wait_for(routing, 2.0)


async def test_queue_escalation_times_out_when_nobody_answers():
    broker = InProcessEscalationBroker(QUEUES)
    await online(broker, "sup")
    await broker.set_status("sup", "busy")  # type: ignore[arg-type]
    port = QueueEscalation(broker, update_s=0.02, grace_s=0.0)
    result = await asyncio.wait_for(port.request("c1", Escalate(queue="support", timeout=0.1)), 2)
    assert result.outcome == "timeout"
    st = await broker.status("c1")
    assert st is not None and st.state is TicketState.TIMED_OUT
