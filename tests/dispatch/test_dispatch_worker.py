"""The worker against a fake LiveKit `/agent` endpoint speaking the real protobuf protocol."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit.protocol import agent

from callcenter.dispatch.admission import Admission
from callcenter.dispatch.job import JobContext
from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.dispatch.metrics import HealthServer
from callcenter.dispatch.runner import CallRunner, RunnerTiming
from callcenter.dispatch.worker import AgentWorker
from callcenter.testing.demo import QUESTIONS, scripted_call
from callcenter.testing.livekit import FakeLiveKitServer
from callcenter.testing.livekit.rooms import LocalRoomConnector as RoomLog

FAST = RunnerTiming(heartbeat_s=0.05, lease_ttl_s=0.5, worker_ttl_s=1.0)


async def _hold(ctx: JobContext) -> None:
    """A call that lasts until cancelled, saying one line."""
    await ctx.room.publish_transcript(ctx.room.local_identity, "hello", final=True)
    await asyncio.Event().wait()


def make_worker(
    server: FakeLiveKitServer,
    rooms: RoomLog,
    handler: object = scripted_call,
    *,
    max_calls: int = 4,
    secret: str | None = None,
    store: MemoryCheckpointStore | None = None,
) -> AgentWorker:
    runner = CallRunner(
        handler=handler,  # type: ignore[arg-type]
        store=store or MemoryCheckpointStore(),
        admission=Admission(max_calls=max_calls, cpu_threshold=float(os.cpu_count() or 1)),
        timing=FAST,
    )
    return AgentWorker(
        url=server.url,
        api_key=server.api_key,
        api_secret=secret or server.api_secret,
        agent_name="callcenter",
        runner=runner,
        connect_room=rooms,
        status_interval_s=0.1,
        ping_interval_s=0.1,
        backoff_s=(0.05, 0.2),
    )


@pytest.fixture
async def running() -> AsyncIterator[list[AgentWorker]]:
    workers: list[AgentWorker] = []
    tasks: list[asyncio.Task[None]] = []

    yield workers
    for w in workers:
        await w.runner.aclose()
        await w.stop()
    del tasks


def start(worker: AgentWorker, registry: list[AgentWorker]) -> asyncio.Task[None]:
    registry.append(worker)
    return asyncio.get_running_loop().create_task(worker.run())


async def test_worker_registers_reports_status_and_answers_pings(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    w = make_worker(fake_livekit, room_log)
    start(w, running)
    fa = fake_livekit.agents
    await fa.wait_for(
        lambda: any(c.pings >= 2 and c.status_updates >= 2 for c in fa.workers.values())
    )
    conn = next(iter(fa.workers.values()))
    assert conn.agent_name == "callcenter"
    assert conn.status == agent.WS_AVAILABLE and conn.job_count == 0
    assert w.server_worker_id == conn.id


async def test_assignment_joins_room_runs_call_and_reports_running_then_success(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    w = make_worker(fake_livekit, room_log)
    start(w, running)
    fa = fake_livekit.agents
    await fa.wait_for(lambda: len(fa.workers) == 1)
    job = await fa.dispatch(
        "call-abc", agent_name="callcenter", metadata='{"answer_delay_s": 0.01}'
    )
    assert job is not None
    await fa.wait_for(lambda: job.status == agent.JS_SUCCESS, timeout=10)
    assert job.statuses[0] == agent.JS_RUNNING
    assert job.participant_identity == "agent-call-abc"
    ticket = room_log.tickets[0]
    assert ticket.room_name == "call-abc" and ticket.url == fake_livekit.url
    assert ticket.token  # the assignment's room token is what we join with
    said = room_log.said()
    assert [s.split(": ", 1)[1] for s in said[: len(QUESTIONS)]] == [q for _, q in QUESTIONS]


async def test_full_worker_declines_and_the_job_goes_to_a_worker_with_a_free_slot(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    a = make_worker(fake_livekit, room_log, _hold, max_calls=1)
    start(a, running)
    fa = fake_livekit.agents
    await fa.wait_for(lambda: len(fa.workers) == 1)
    first = await fa.dispatch("call-1", agent_name="callcenter")
    assert first is not None
    await fa.wait_for(lambda: first.status == agent.JS_RUNNING)
    await fa.wait_for(lambda: all(c.status == agent.WS_FULL for c in fa.workers.values()))
    # A full worker is not offered jobs; forced offers are declined.
    assert await fa.dispatch("call-2", agent_name="callcenter") is None
    conn = next(iter(fa.workers.values()))
    conn.status = agent.WS_AVAILABLE
    assert await fa.dispatch("call-2", agent_name="callcenter") is None
    b = make_worker(fake_livekit, room_log, _hold, max_calls=1)
    start(b, running)
    await fa.wait_for(lambda: len(fa.workers) == 2)
    second = await fa.dispatch("call-2", agent_name="callcenter")
    assert second is not None and second.worker_id != first.worker_id


async def test_termination_stops_the_call_and_reports_success(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    store = MemoryCheckpointStore()
    w = make_worker(fake_livekit, room_log, _hold, store=store)
    start(w, running)
    fa = fake_livekit.agents
    await fa.wait_for(lambda: len(fa.workers) == 1)
    job = await fa.dispatch("call-t", agent_name="callcenter")
    assert job is not None
    await fa.wait_for(lambda: job.status == agent.JS_RUNNING)
    await fa.terminate(job.id)
    await fa.wait_for(lambda: job.status == agent.JS_SUCCESS)
    assert w.runner.active == 0
    # A terminated call is finished: it can never be taken again (no re-dispatch).
    assert (
        await store.acquire("call-t", "other", room_name="call-t", agent_name="", ttl_s=1) is None
    )


async def test_worker_reconnects_after_the_connection_drops_and_keeps_its_calls(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    w = make_worker(fake_livekit, room_log, _hold)
    start(w, running)
    fa = fake_livekit.agents
    await fa.wait_for(lambda: len(fa.workers) == 1)
    job = await fa.dispatch("call-r", agent_name="callcenter")
    assert job is not None
    await fa.wait_for(lambda: job.status == agent.JS_RUNNING)
    await fa.drop(job.worker_id)
    await fa.wait_for(lambda: fa.registrations == 2 and len(fa.workers) == 1)
    assert w.runner.active == 1
    await fa.wait_for(lambda: next(iter(fa.workers.values())).job_count == 1)


async def test_worker_with_a_bad_secret_is_rejected_and_keeps_retrying(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    w = make_worker(fake_livekit, room_log, secret="wrong-secret-wrong-secret-wrong-secret")
    start(w, running)
    await asyncio.sleep(0.5)
    assert fake_livekit.agents.rejected_connections >= 2
    assert not fake_livekit.agents.workers and not w.registered.is_set()


async def test_drain_takes_no_new_jobs_and_waits_for_running_calls(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    w = make_worker(fake_livekit, room_log)
    task = start(w, running)
    fa = fake_livekit.agents
    await fa.wait_for(lambda: len(fa.workers) == 1)
    job = await fa.dispatch("call-d", agent_name="callcenter", metadata='{"answer_delay_s": 0.1}')
    assert job is not None
    await fa.wait_for(lambda: job.status == agent.JS_RUNNING)
    drain = asyncio.create_task(w.drain(timeout_s=10))
    await fa.wait_for(lambda: all(c.draining for c in fa.workers.values()))
    assert await fa.dispatch("call-new", agent_name="callcenter") is None
    assert await drain is True
    assert job.status == agent.JS_SUCCESS
    await asyncio.wait_for(task, 2)


async def test_drain_timeout_releases_calls_for_another_worker(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    store = MemoryCheckpointStore()
    w = make_worker(fake_livekit, room_log, _hold, store=store)
    start(w, running)
    fa = fake_livekit.agents
    await fa.wait_for(lambda: len(fa.workers) == 1)
    job = await fa.dispatch("call-x", agent_name="callcenter")
    assert job is not None
    await fa.wait_for(lambda: job.status == agent.JS_RUNNING)
    assert await w.drain(timeout_s=0.2) is False
    orphans = await store.orphaned()
    assert [o.call_id for o in orphans] == ["call-x"]


async def test_health_and_metrics_endpoints_report_calls_and_slots(
    fake_livekit: FakeLiveKitServer, room_log: RoomLog, running: list[AgentWorker]
) -> None:
    w = make_worker(fake_livekit, room_log, _hold, max_calls=3)
    start(w, running)
    health = HealthServer(w.runner.metrics, w.runner.status)
    await health.start()
    try:
        fa = fake_livekit.agents
        await fa.wait_for(lambda: len(fa.workers) == 1)
        job = await fa.dispatch("call-m", agent_name="callcenter")
        assert job is not None
        await fa.wait_for(lambda: job.status == agent.JS_RUNNING)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{health.port}/healthz") as resp:
                assert resp.status == 200
                body = await resp.json()
            async with http.get(f"http://127.0.0.1:{health.port}/metrics") as resp:
                text = await resp.text()
        assert body["active_calls"] == 1 and body["calls"] == ["call-m"]
        assert "callcenter_worker_active_calls 1.0" in text
        assert "callcenter_worker_call_slots 3.0" in text
        assert "callcenter_turn_latency_seconds_bucket" in text
    finally:
        await health.stop()
