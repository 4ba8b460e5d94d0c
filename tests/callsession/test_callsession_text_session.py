"""The admin's "try it": a flow driven by text turns through the one interpreter."""

from __future__ import annotations

from pathlib import Path

import httpx

from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import Effects
from callcenter.callsession.text_session import TextSession
from callcenter.flow.validate import load_flow_file
from callcenter.testing.webhook_fixtures import WebhookFixtures

FLOWS = Path(__file__).resolve().parents[2] / "flows"


async def test_text_session_walks_the_order_path_turn_by_turn() -> None:
    async with httpx.AsyncClient(
        transport=WebhookFixtures(FLOWS / "callers" / "webhooks.yaml")
    ) as http:
        session = TextSession(load_flow_file(FLOWS / "customer_support.yaml"),
                              Effects(http=http, intents=IntentService(prefer_minilm=False)))
        first = await session.start()
        assert first.said and not first.ended
        assert "node_entered" in first.notes
        menu = await session.send("order status")
        assert any("order number" in s.lower() for s in menu.said), menu.said
        found = await session.send("482913")
        assert any("482913" in s for s in found.said), found.said
        assert session.state.slots["order_number"] == "482913"
        done = await session.send("no")
        assert done.ended and session.state.outcome == "completed"
        assert (await session.send("hello?")).ended
        await session.aclose()
