"""`callcenter supervisor`: a person at a terminal takes a queued call, coaches the AI and
hands the call back, on the real Redis broker and call-control bus (a fake call holds the
call's lease and serves the commands)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from typer.testing import CliRunner

from callcenter.cli import app
from callcenter.config import get_settings
from callcenter.control import Command, CommandResult
from callcenter.control.commands import Coach, HandBack
from callcenter.control.redis_bus import RedisControlBus
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.escalation import Ticket
from callcenter.escalation.redis_broker import RedisEscalationBroker
from tests.escalation.conftest import REDIS_URL, _redis_or_skip

CALL = "c-terminal"


@pytest.fixture
async def prefix(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    import uuid

    import redis.asyncio as aioredis

    _redis_or_skip()
    p = f"cctest:{uuid.uuid4().hex[:10]}:"
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("REDIS_KEY_PREFIX", p)
    get_settings.cache_clear()
    yield p
    get_settings.cache_clear()
    r = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in r.scan_iter(match=p + "*", count=500)]
    if keys:
        await r.delete(*keys)
    await r.aclose()


async def test_terminal_supervisor_sees_the_offer_accepts_coaches_and_hands_back(
    prefix: str,
) -> None:
    store = RedisCheckpointStore.from_url(REDIS_URL, prefix=prefix)
    bus = RedisControlBus(store, poll_s=0.05, refresh_s=0.2)
    lease = await store.acquire(CALL, "w-fake", room_name=CALL, agent_name="callcenter",
                                ttl_s=30)
    assert lease is not None
    ran: list[Command] = []

    async def call(command: Command) -> CommandResult:
        ran.append(command)
        return CommandResult(data={"status": "escalated"})

    served = await bus.serve(lease, call)
    broker = RedisEscalationBroker.from_url(REDIS_URL, prefix=prefix)
    await broker.enqueue(Ticket(CALL, "support", reason="Caller disputes a charge.",
                                context={"summary": {"slots": {"account": "1234"},
                                                     "path": ["ask_account", "to_human"]}}))
    lines = "wait 15\naccept\ncoach offer the ten percent credit\nback anything_else\nquit\n"
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["supervisor", "--queue", "support", "--id", "sup-tess",
                                  "--heartbeat", "0.5"], input=lines)
    await served.aclose()
    await bus.aclose()

    out = result.output
    assert result.exit_code == 0, out
    assert "Caller disputes a charge." in out and "account: 1234" in out  # the brief
    assert "connected" in out and "handed back" in out, out
    assert [type(c) for c in ran] == [Coach, HandBack], ran
    coach, back = ran
    assert isinstance(coach, Coach) and coach.text == "offer the ten percent credit"
    assert coach.by == "sup-tess"
    assert isinstance(back, HandBack) and back.node == "anything_else"
    status = await broker.status(CALL)
    assert status is not None and status.supervisor == "sup-tess"
    sups = {p.supervisor_id: p for p in await broker.supervisors()}
    assert sups["sup-tess"].status == "away", "a supervisor who quits is offered nothing"
    await broker.aclose()


def test_terminal_supervisor_without_redis_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["supervisor", "--queue", "support"])
    assert result.exit_code == 2
    assert "needs REDIS_URL" in result.output and len(result.output.strip().splitlines()) == 1
