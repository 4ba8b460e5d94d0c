"""The dashboard's supervisors-online figure: the escalation broker's presence, read only
(heartbeats that lapsed count as away); a server without a broker says so."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient

from callcenter.dev.desk import SupervisorDesk
from callcenter.escalation.memory import InProcessEscalationBroker
from callcenter.escalation.presence import Presence, SupervisorStatus


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def _figure(html: str) -> tuple[str, str]:
    match = re.search(r'id="stat-supervisors">([^<]*)</strong><span class="sub">([^<]*)<', html)
    assert match, "no supervisors figure on the dashboard"
    return match.group(1), match.group(2)


def test_supervisors_online_come_from_the_broker(app: FastAPI,
                                                 supervisor_client: TestClient) -> None:
    assert _figure(supervisor_client.get("/dashboard").text) == (
        "–", "no escalation backend (REDIS_URL)")
    clock = Clock()
    broker = InProcessEscalationBroker(heartbeat_ttl_s=15, clock=clock)
    # The console backend the app would make; the dashboard only reads its desk's broker.
    app.state.console = SimpleNamespace(desk=SupervisorDesk(broker))

    async def beat() -> None:
        await broker.heartbeat(Presence("ann", SupervisorStatus.AVAILABLE))
        await broker.heartbeat(Presence("bob", SupervisorStatus.BUSY))
        await broker.heartbeat(Presence("cy", SupervisorStatus.AWAY))
        clock.now += 10
        await broker.heartbeat(Presence("dee", SupervisorStatus.AVAILABLE))

    asyncio.run(beat())
    assert _figure(supervisor_client.get("/dashboard").text) == ("3", "2 available · 1 busy")
    clock.now += 10  # ann's and bob's heartbeats have lapsed: they count as away
    assert _figure(supervisor_client.get("/dashboard").text) == ("1", "1 available · 0 busy")
