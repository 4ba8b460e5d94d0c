"""A lost worker's call is re-dispatched through LiveKit and resumed from its checkpoint."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from livekit import api
from livekit.protocol import agent

from callcenter.dispatch.admission import Admission
from callcenter.dispatch.job import JobContext
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.dispatch.runner import CallRunner, RunnerTiming
from callcenter.dispatch.store import LeaseLost
from callcenter.dispatch.watchdog import Watchdog, livekit_redispatcher
from callcenter.dispatch.worker import AgentWorker
from callcenter.testing.demo import QUESTIONS, RECOVERY_LINE, scripted_call
from callcenter.testing.livekit import FakeLiveKitServer
from callcenter.testing.livekit.rooms import LocalRoomConnector

FAST = RunnerTiming(heartbeat_s=0.05, lease_ttl_s=0.4, worker_ttl_s=1.0)


class Node:
    """One worker process's parts, in-process."""

    def __init__(self, server: FakeLiveKitServer, url: str, prefix: str, handler: object) -> None:
        self.store = RedisCheckpointStore.from_url(url, prefix=prefix, lease_ttl_s=FAST.lease_ttl_s)
        self.rooms = LocalRoomConnector()
        self.runner = CallRunner(
            handler=handler,  # type: ignore[arg-type]
            store=self.store,
            admission=Admission(max_calls=4, cpu_threshold=float(os.cpu_count() or 1)),
            timing=FAST,
        )
        self.worker = AgentWorker(
            url=server.url,
            api_key=server.api_key,
            api_secret=server.api_secret,
            agent_name="callcenter",
            runner=self.runner,
            connect_room=self.rooms,
            status_interval_s=0.1,
            backoff_s=(0.05, 0.2),
        )
        self.lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
        self.watchdog = Watchdog(
            self.store,
            livekit_redispatcher(self.lkapi),
            owner=self.runner.worker_id,
            interval_s=0.05,
            lock_ttl_s=0.5,
        )
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self.worker.run()), loop.create_task(self.watchdog.run())]

    async def crash(self) -> None:
        """Die like a SIGKILL: no release, no status, heartbeats just stop."""
        self.watchdog.stop()
        for t in self.tasks:
            t.cancel()
        hb = self.runner._heartbeat
        assert hb is not None
        hb.cancel()
        for running in self.runner.calls.values():
            running.task.cancel()
        self.runner.store = _Dead()  # type: ignore[assignment]
        await self.worker.stop()

    async def close(self) -> None:
        self.watchdog.stop()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.worker.stop()
        await self.lkapi.aclose()


class _Dead:
    """A crashed process writes nothing."""

    def __getattr__(self, _name: str) -> object:
        async def nothing(*_a: object, **_k: object) -> None:
            return None

        return nothing


@pytest.fixture
async def nodes(fake_livekit: FakeLiveKitServer, redis11_url: str) -> AsyncIterator[list[Node]]:
    made: list[Node] = []
    yield made
    for n in made:
        await n.close()
        await n.runner.aclose()


async def test_call_resumes_on_another_worker_with_one_recovery_line_and_no_repeats(
    fake_livekit: FakeLiveKitServer, redis11_url: str, redis_prefix: str, nodes: list[Node]
) -> None:
    fa = fake_livekit.agents
    a = Node(fake_livekit, redis11_url, redis_prefix, scripted_call)
    nodes.append(a)
    await fa.wait_for(lambda: len(fa.workers) == 1)
    job = await fa.dispatch("call-f1", agent_name="callcenter", metadata="")
    assert job is not None
    store = a.store
    for _ in range(100):  # until two questions are answered
        ck = await store.load("call-f1")
        if ck is not None and ck.data["turn"] >= 2:
            break
        await asyncio.sleep(0.02)
    b = Node(fake_livekit, redis11_url, redis_prefix, scripted_call)
    nodes.append(b)
    await fa.wait_for(lambda: len(fa.workers) == 2)
    await a.crash()
    loop = asyncio.get_running_loop()
    t_crash = loop.time()
    await fa.wait_for(lambda: any(j.worker_id != job.worker_id for j in fa.jobs.values()), 5)
    resumed = next(j for j in fa.jobs.values() if j.worker_id != job.worker_id)
    assert resumed.job.room.name == "call-f1"
    assert '"call_id": "call-f1"' in resumed.job.metadata
    await fa.wait_for(lambda: resumed.status == agent.JS_SUCCESS, 15)
    failover_s = loop.time() - t_crash
    said = [line.split(": ", 1)[1] for line in a.rooms.said() + b.rooms.said()]
    for _slot, question in QUESTIONS:
        assert said.count(question) == 1, (question, said)
    assert said.count(RECOVERY_LINE) == 1
    assert b.rooms.said()[0].endswith(RECOVERY_LINE)
    final = await b.store.load("call-f1")
    assert final is not None and set(final.data["slots"]) == {s for s, _ in QUESTIONS}
    assert failover_s < 5.0


async def test_zombie_worker_cannot_write_after_takeover_and_stops_its_copy(
    fake_livekit: FakeLiveKitServer, redis11_url: str, redis_prefix: str, nodes: list[Node]
) -> None:
    errors: list[BaseException] = []
    started = asyncio.Event()

    async def stubborn(ctx: JobContext) -> None:
        started.set()
        try:
            while True:
                await ctx.save_checkpoint({"worker": ctx.worker_id})
                await asyncio.sleep(0.05)
        except LeaseLost as exc:
            errors.append(exc)
            raise

    fa = fake_livekit.agents
    a = Node(fake_livekit, redis11_url, redis_prefix, stubborn)
    nodes.append(a)
    await fa.wait_for(lambda: len(fa.workers) == 1)
    job = await fa.dispatch("call-z", agent_name="callcenter")
    assert job is not None
    await started.wait()
    hb = a.runner._heartbeat
    assert hb is not None
    hb.cancel()  # A is partitioned: alive, but its heartbeats stop
    # A's saves keep the fence but not the lease TTL; take over once the lease lapses.
    taken = None
    for _ in range(100):
        taken = await a.store.acquire(
            "call-z", "B", room_name="call-z", agent_name="callcenter", ttl_s=5
        )
        if taken is not None:
            break
        await asyncio.sleep(0.05)
    assert taken is not None
    await fa.wait_for(lambda: job.status == agent.JS_FAILED, 5)
    assert errors and a.runner.active == 0
    ck = await a.store.load("call-z")
    assert ck is not None and ck.token == taken.token - 1  # nothing written after the takeover
