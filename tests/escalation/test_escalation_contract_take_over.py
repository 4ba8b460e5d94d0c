"""Broker contract: a take-over makes the taker busy with the call until it is handed back.

A supervisor who barged into an AI call has no queued ticket; `attach` stores one connected
to them, so routing counts it in their load and offers them nothing beyond their capacity.
"""

from __future__ import annotations

from callcenter.escalation import EscalationBroker, TicketState
from tests.escalation.helpers import call, online

S = TicketState


async def test_the_taker_gets_no_offer_until_the_taken_over_call_is_handed_back(
    broker: EscalationBroker,
) -> None:
    await online(broker, "ada")
    attached = await broker.attach(call("taken", queue="take_over"), "ada")
    assert (attached.state, attached.supervisor) == (S.CONNECTED, "ada")
    [ada] = await broker.supervisors()
    assert ada.load == 1
    await broker.enqueue(call("waiting"))
    assert await broker.route_once() == [], "ada is on the taken-over call"
    st = await broker.status("taken")
    assert st is not None and st.position is None and st.supervisor == "ada"

    await broker.returned("taken")
    await broker.end("taken", "returned to the AI")
    [ada] = await broker.supervisors()
    assert ada.load == 0
    [offer] = await broker.route_once()
    assert (offer.supervisor_id, offer.ticket.call_id) == ("ada", "waiting")


async def test_attach_to_a_call_with_a_live_ticket_keeps_that_ticket(
    broker: EscalationBroker,
) -> None:
    await online(broker, "ada")
    await online(broker, "bob")
    first = await broker.attach(call("taken", queue="take_over"), "ada")
    again = await broker.attach(call("taken", queue="take_over"), "bob")
    assert again.supervisor == "ada" and again.version == first.version
    loads = {p.supervisor_id: p.load for p in await broker.supervisors()}
    assert loads == {"ada": 1, "bob": 0}
    # Once that take-over is over, a later one starts a new ticket.
    await broker.end("taken")
    later = await broker.attach(call("taken", queue="take_over"), "bob")
    assert later.supervisor == "bob" and later.version > first.version
