"""A call waiting in the supervisor queue survives its worker's SIGKILL.

Two real `callcenter worker` processes run THE call handler (fake speech) against the fake
LiveKit server, with Redis checkpoints and the Redis escalation broker built from settings
(REDIS_URL). The call escalates at once and waits behind another ticket; its worker is
killed; the other worker resumes it still waiting, with the same place in line (the ticket
and its arrival number are kept, not re-queued at the back), and a supervisor then takes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlmodel import select

from callcenter import migrate
from callcenter.config import get_settings
from callcenter.control.commands import Hangup
from callcenter.control.redis_bus import RedisControlBus
from callcenter.db import session_scope
from callcenter.escalation import Presence, SupervisorStatus, Ticket, run_routing
from callcenter.escalation.redis_broker import RedisEscalationBroker
from callcenter.flowstore import FlowStore
from callcenter.models import Call, CallEvent
from callcenter.testing.livekit import FakeLiveKitServer
from tests.escalation.worker_hooks import NUMBER

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
FLOW = """
name: hold_line
start: to_human
nodes:
  to_human:
    type: escalate
    queue: sigkill_line
    reason: Caller wants a person.
    hold_prompt: Please hold.
    position_every: 60
    timeout: 120
    next: bye
    on_timeout: bye
  bye:
    type: hangup
    say: Goodbye.
"""


@pytest.fixture
async def fake_livekit() -> AsyncIterator[FakeLiveKitServer]:
    async with FakeLiveKitServer() as server:
        yield server


@pytest.fixture
def redis_url() -> str:
    from tests.escalation.conftest import REDIS_URL, _redis_or_skip

    _redis_or_skip()
    return REDIS_URL


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    import uuid

    p = f"cctest:{uuid.uuid4().hex[:10]}:"
    yield p
    r = aioredis.Redis.from_url(redis_url)
    keys = [k async for k in r.scan_iter(match=p + "*", count=500)]
    if keys:
        await r.delete(*keys)
    await r.aclose()


@pytest.fixture
async def workers(fake_livekit: FakeLiveKitServer, redis_url: str, prefix: str
                  ) -> AsyncIterator[Callable[[], Awaitable[asyncio.subprocess.Process]]]:
    db_url = get_settings().effective_database_url
    migrate.upgrade(db_url)
    with session_scope() as s:
        FlowStore(s).publish_text(FLOW)
        FlowStore(s).map_number(NUMBER, "hold_line")
    procs: list[asyncio.subprocess.Process] = []
    env = {**os.environ, "LIVEKIT_URL": fake_livekit.url,
           "LIVEKIT_API_KEY": fake_livekit.api_key,
           "LIVEKIT_API_SECRET": fake_livekit.api_secret, "REDIS_URL": redis_url,
           "REDIS_KEY_PREFIX": prefix, "DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"}

    async def spawn() -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from callcenter.cli import main; main()", "worker",
            "--processes", "1", "--health-port", "0", "--redis-prefix", prefix,
            "--handler", "tests.escalation.worker_hooks:handle_call",
            "--room-connector", "tests.escalation.worker_hooks:rooms_with_caller",
            env=env, cwd=REPO,
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _until(pred: Callable[[], Awaitable[object]], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := await pred():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _worker_of(call_id: str) -> str | None:
    with session_scope() as s:
        call = s.get(Call, call_id)
        return None if call is None else call.worker_id


def _events(call_id: str) -> list[str]:
    with session_scope() as s:
        rows = s.exec(select(CallEvent).where(CallEvent.call_id == call_id)
                      .order_by(CallEvent.seq)).all()
        return [r.type for r in rows]


async def test_call_waiting_in_queue_resumes_on_another_worker_with_its_place_and_is_taken(
    fake_livekit: FakeLiveKitServer, redis_url: str, prefix: str,
    workers: Callable[[], Awaitable[asyncio.subprocess.Process]],
) -> None:
    r = aioredis.Redis.from_url(redis_url, decode_responses=True)
    broker = RedisEscalationBroker.from_url(redis_url, prefix=prefix, poll_s=0.02)
    # Staffed but busy: the call must wait in line, behind a call already there. The
    # console keeps its presence alive while workers start (slow on a busy machine).
    sup = [Presence("sup-kim", status=SupervisorStatus.BUSY)]

    async def console() -> None:
        while True:
            await broker.heartbeat(sup[0])
            await asyncio.sleep(1.0)

    await broker.heartbeat(sup[0])
    beating = asyncio.ensure_future(console())
    await broker.enqueue(Ticket("blocker", "sigkill_line"))
    fa = fake_livekit.agents
    await workers()
    await workers()
    await fa.wait_for(lambda: len(fa.workers) == 2, timeout=30)
    room = f"call-esc-kill-{prefix.split(':')[1]}"
    assert await fa.dispatch(room, agent_name="callcenter") is not None

    async def waiting_second() -> object:
        st = await broker.status(room)
        return st if st is not None and st.position == 2 else None

    before = await _until(waiting_second, 20, "the call waiting second in line")
    await broker.enqueue(Ticket("later", "sigkill_line"))  # a re-queued call would go behind
    ckpt = f"{prefix}ckpt:{room}"
    owner = await r.hget(ckpt, "worker")
    pids = {}
    async for key in r.scan_iter(match=prefix + "worker:*"):
        info = json.loads(str(await r.get(key)))
        pids[info["worker_id"]] = info["pid"]
    os.kill(pids[str(owner)], signal.SIGKILL)

    async def resumed() -> object:
        # The checkpoint keeps the old worker's name until the call's next step; the call
        # record says who runs it now.
        moved = await asyncio.to_thread(_worker_of, room) not in (None, owner)
        return moved and "call_resumed" in await asyncio.to_thread(_events, room)

    await _until(resumed, 15, "the call resumed by the other worker")
    await asyncio.sleep(0.5)  # the new worker is back in its wait on the ticket
    after = await broker.status(room)
    assert after is not None and after.state == "waiting"
    assert after.position == before.position == 2  # type: ignore[attr-defined]
    assert after.ticket.seq == before.ticket.seq  # type: ignore[attr-defined]

    # The call ahead leaves; the supervisor comes free and is offered our call, not "later".
    await broker.cancel("blocker", "caller_hangup")
    stop = asyncio.Event()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05, stop=stop))
    sup[0] = Presence("sup-kim", status=SupervisorStatus.AVAILABLE)
    await broker.heartbeat(sup[0])
    offer = await broker.next_offer("sup-kim", timeout=10)
    assert offer is not None and offer.call_id == room
    assert await broker.accept(offer.offer_id, "sup-kim") is not None

    async def connected() -> object:
        data = await r.hget(ckpt, "data")
        return data is not None and json.loads(data)["state"]["status"] == "escalated"

    await _until(connected, 10, "the resumed call connected to the supervisor")
    events = await asyncio.to_thread(_events, room)
    assert events.index("handoff_brief") > events.index("call_resumed"), events
    assert await r.hget(ckpt, "worker") != owner

    bus = RedisControlBus.from_url(redis_url, prefix=prefix)
    await bus.send(room, Hangup(reason="done", issued_by="sup-kim"))
    await bus.aclose()
    stop.set()
    beating.cancel()
    await asyncio.wait_for(routing, 5)
    await broker.aclose()
    await r.aclose()
