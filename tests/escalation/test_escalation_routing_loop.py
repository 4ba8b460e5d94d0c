"""The routing loop through a broker outage: one line when it starts, one when it ends."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
import redis.exceptions

from callcenter.escalation.broker import EscalationBroker
from callcenter.escalation.loop import run_routing


class _FlakyBroker:
    """Fails its first `down` passes as an unreachable Redis does, then routes."""

    def __init__(self, down: int, bug_at: int | None = None) -> None:
        self.passes = 0
        self.down = down
        self.bug_at = bug_at
        self.stop = asyncio.Event()

    async def route_once(self) -> None:
        self.passes += 1
        if self.passes == self.bug_at:
            raise KeyError("a bug, not an outage")
        if self.passes <= self.down:
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1.")
        if self.passes >= self.down + 3:
            self.stop.set()

    async def wait_for_work(self, timeout_s: float) -> None:
        await asyncio.sleep(timeout_s)


def _run(broker: _FlakyBroker) -> None:
    async def go() -> None:
        await asyncio.wait_for(run_routing(cast(EscalationBroker, broker), interval_s=0.01,
                                           stop=broker.stop), 10)
    asyncio.run(go())


def test_an_outage_is_said_once_and_its_end_once_without_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.escalation.loop")
    broker = _FlakyBroker(down=80)  # ~0.8 s of failed passes
    _run(broker)
    lines: list[Any] = [r for r in caplog.records if r.name == "callcenter.escalation.loop"]
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], [r.getMessage() for r in lines]
    assert "unreachable" in lines[0].getMessage() and lines[0].exc_info is None
    assert "reachable again" in lines[1].getMessage()


def test_a_bug_in_a_pass_is_still_reported_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.escalation.loop")
    broker = _FlakyBroker(down=0, bug_at=1)
    _run(broker)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is not None
