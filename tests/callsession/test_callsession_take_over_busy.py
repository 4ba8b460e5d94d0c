"""A supervisor who takes a call over is busy in the broker until the hand-back.

Without it the taker kept getting offers (routing saw no call of theirs) while talking to
the caller they had barged in on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import TAKE_OVER_QUEUE, Effects
from callcenter.callsession.text_session import TextSession
from callcenter.escalation import InProcessEscalationBroker, Presence, Queue, TicketState
from callcenter.escalation.port import QueueEscalation
from callcenter.flow.events import EscalationResult, TakenOver
from callcenter.flow.validate import check_flow_text
from tests.escalation.helpers import call

FLOW = """
name: account_line
start: ask_account
nodes:
  ask_account:
    type: ask
    slot: account
    expect: digits
    prompt: Please say your four digit account number.
    next: bye
  bye:
    type: hangup
    say: Thanks for calling, goodbye.
"""


async def _until(check: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), 5)


async def test_the_taker_is_busy_during_the_take_over_and_free_after_the_hand_back() -> None:
    flow, problems = check_flow_text(FLOW, "account_line.yaml")
    assert flow is not None, problems
    broker = InProcessEscalationBroker([Queue("support")])
    await broker.heartbeat(Presence("sup-ada", capacity=1))
    async with httpx.AsyncClient() as http:
        session = TextSession(flow, Effects(
            http=http, intents=IntentService(prefer_minilm=False),
            escalations=QueueEscalation(broker)), call_id="c-busy")
        await session.start()
        run = session.interpreter
        run.inject(TakenOver(supervisor="sup-ada"))
        await _until(lambda: run.state.status == "escalated")
        st = None
        for _ in range(500):  # the take-over's step attaches right after the runner's step
            if (st := await broker.status("c-busy")) is not None:
                break
            await asyncio.sleep(0.005)
        assert st is not None and (st.state, st.supervisor) == (TicketState.CONNECTED,
                                                                "sup-ada")
        assert st.ticket.queue == TAKE_OVER_QUEUE
        [ada] = await broker.supervisors()
        assert ada.load == 1
        await broker.enqueue(call("another-caller"))
        assert await broker.route_once() == [], "no offer while on the taken-over call"

        run.inject(EscalationResult(outcome="handed_back", supervisor="sup-ada"))
        await _until(lambda: run.state.status != "escalated")
        await asyncio.sleep(0.05)  # the hand-back's close runs in the same step
        [ada] = await broker.supervisors()
        assert ada.load == 0
        [offer] = await broker.route_once()
        assert offer.ticket.call_id == "another-caller"
        await session.aclose()
