"""A take-over while the webhook request is out: the request finishes, is sent once, and the
hand-back goes on from its reply (the one interpreter, driven as the admin's "try it")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import Effects
from callcenter.callsession.text_session import TextSession
from callcenter.flow.events import EscalationResult, TakenOver
from callcenter.flow.validate import check_flow_text
from tests.flow.test_flow_take_over_webhook import FLOW


class SlowShop:
    """The refunds endpoint over real httpx: answers only when the test releases it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        self.release = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        await self.release.wait()
        return httpx.Response(200, json={"status": "approved"})


async def _until(check: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), 5)


async def test_the_refund_is_sent_once_and_the_hand_back_tells_its_result() -> None:
    flow, problems = check_flow_text(FLOW, "refunds.yaml")
    assert flow is not None, problems
    shop = SlowShop()
    async with httpx.AsyncClient(transport=httpx.MockTransport(shop)) as http:
        session = TextSession(flow, Effects(http=http,
                                            intents=IntentService(prefer_minilm=False)))
        await session.start()
        answer = asyncio.ensure_future(session.send("4821"))
        await _until(lambda: len(shop.bodies) == 1)
        flow_run = session.interpreter
        flow_run.inject(TakenOver(supervisor="sup-ada"))
        await _until(lambda: flow_run.state.status == "escalated")
        shop.release.set()  # the reply comes while the supervisor talks
        await _until(lambda: flow_run.state.stored_webhook is not None)
        assert flow_run.state.variables["refund_status"] == "approved"
        flow_run.inject(EscalationResult(outcome="handed_back", supervisor="sup-ada"))
        await _until(lambda: session.ended)
        await answer
        await session.aclose()
    assert shop.bodies == [{"order": "4821"}], "the refund request went out once"
    assert flow_run.state.path == ["ask_order", "refund", "told", "bye"]
    assert flow_run.state.outcome == "completed"
