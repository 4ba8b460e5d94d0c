"""Redis outages of a few seconds during live calls: no call is dropped, moved or run twice.

The Redis here is the test's own (free port), crashed with SIGKILL and restarted by pid; the
machine's Redis is never touched. With an append-only file it comes back with its data (an
outage); without persistence it comes back empty, and the live calls' workers re-establish
their leases and checkpoints from memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.exceptions

from callcenter.dispatch.admission import Admission
from callcenter.dispatch.job import JobContext, JobInfo
from callcenter.dispatch.local import LocalDispatcher
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.dispatch.runner import CallRunner, JobOutcome, RunnerTiming
from callcenter.dispatch.store import Lease, LeaseLost
from callcenter.dispatch.watchdog import Watchdog
from callcenter.rooms.local import LocalRoom
from callcenter.testing.demo import GOODBYE, QUESTIONS, RECOVERY_LINE, scripted_call
from tests.redis_server import PrivateRedis, redis_binary

TIMING = RunnerTiming(heartbeat_s=0.1, lease_ttl_s=0.6, worker_ttl_s=1.5)
CORES = float(os.cpu_count() or 1)


@pytest.fixture
def own_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(redis_binary(), persist=True)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def store(own_redis: PrivateRedis) -> AsyncIterator[RedisCheckpointStore]:
    s = RedisCheckpointStore.from_url(own_redis.url, prefix="cc:", lease_ttl_s=TIMING.lease_ttl_s)
    yield s
    await s.aclose()


async def outage(server: PrivateRedis, seconds: float) -> None:
    """Redis crashes and comes back `seconds` later (with its data only if it persists)."""
    server.stop()
    await asyncio.sleep(seconds)
    await asyncio.to_thread(server.start)


def said(room: LocalRoom) -> list[str]:
    return [t.split(": ", 1)[1] for _w, topic, t, _to in room.messages
            if topic == "lk.transcription"]


def _runner(d: LocalDispatcher, done: list[tuple[str, JobOutcome]]) -> CallRunner:
    r = CallRunner(handler=scripted_call, store=d.store, timing=TIMING,
                   admission=Admission(max_calls=20, cpu_threshold=CORES),
                   on_done=lambda job, outcome, _e: done.append((job.call_id, outcome)))
    d.add_runner(r)
    return r


@pytest.mark.slow
@pytest.mark.parametrize("persist", [True, False], ids=["persistent", "restarts-empty"])
async def test_twenty_calls_on_two_workers_ride_out_three_redis_outages(
    persist: bool, caplog: pytest.LogCaptureFixture
) -> None:
    own_redis = PrivateRedis(redis_binary(), persist=persist)
    own_redis.start()
    store = RedisCheckpointStore.from_url(own_redis.url, prefix="cc:",
                                          lease_ttl_s=TIMING.lease_ttl_s)
    try:
        await _twenty_calls(own_redis, store, caplog, empty_restarts=not persist)
    finally:
        await store.aclose()
        own_redis.close()


async def _twenty_calls(own_redis: PrivateRedis, store: RedisCheckpointStore,
                        caplog: pytest.LogCaptureFixture, *, empty_restarts: bool) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.dispatch")
    d = LocalDispatcher(store, watchdog_interval_s=0.05)
    d.watchdog = Watchdog(store, d._redispatch, owner="local-dispatcher", interval_s=0.05,
                          grace_s=TIMING.lease_ttl_s + 4 * TIMING.heartbeat_s)
    done: list[tuple[str, JobOutcome]] = []
    runners = [_runner(d, done), _runner(d, done)]
    rooms = [LocalRoom(f"call-o{i}") for i in range(20)]
    try:
        for room in rooms:
            await d.dispatch(room, metadata={"answer_delay_s": 3.2})
        await asyncio.sleep(0.8)
        for seconds in (3.0, 6.0, 3.5):  # 3-10 s each; calls last ~16 s, across all three
            await outage(own_redis, seconds)
            await asyncio.sleep(1.0)
        deadline = time.monotonic() + 40
        while len(done) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await d.aclose()
    assert sorted(done) == sorted((r.name, JobOutcome.SUCCESS) for r in rooms), done
    assert d.watchdog.redispatched == []  # no call moved while its worker lived
    for room in rooms:
        lines = said(room)
        assert RECOVERY_LINE not in lines  # never resumed, so never run twice
        assert [q for _s, q in QUESTIONS if q in lines] == [q for _s, q in QUESTIONS]
        assert all(lines.count(q) == 1 for _s, q in QUESTIONS) and lines[-1] == GOODBYE
        ck = await store.load(room.name)
        assert ck is not None and set(ck.data["slots"]) == {s for s, _ in QUESTIONS}
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in warnings if r.exc_info], "an outage logged a traceback"
    down = [r.getMessage() for r in warnings if "unreachable" in r.getMessage()]
    # One line per outage for each runner's calls and for the watchdog: not one per attempt.
    assert 3 <= len(down) <= 3 * (len(runners) + 1), down
    assert sum(r.store_outage.outages for r in runners) >= 3
    restored = [r.getMessage() for r in warnings if "came back without" in r.getMessage()]
    if empty_restarts:  # each empty restart: a line from each runner, for all its calls
        assert 3 <= len(restored) <= 3 * len(runners), restored
    else:
        assert restored == []


async def test_lease_and_checkpoint_are_re_established_when_redis_restarts_empty(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = PrivateRedis(redis_binary(), persist=False)
    server.start()
    store = RedisCheckpointStore.from_url(server.url, lease_ttl_s=TIMING.lease_ttl_s)
    release = asyncio.Event()
    done: list[JobOutcome] = []

    async def handler(ctx: JobContext) -> None:
        await ctx.save_checkpoint({"slots": {"name": "Ada"}})
        await release.wait()
        await ctx.save_checkpoint({"slots": {"name": "Ada", "zip": "12345"}})

    runner = CallRunner(handler=handler, store=store, timing=TIMING,
                        on_done=lambda _j, outcome, _e: done.append(outcome))
    watchdog = Watchdog(store, _never, owner="w", interval_s=0.05, grace_s=1.0)
    watching = asyncio.get_running_loop().create_task(watchdog.run())
    job = JobInfo(job_id="J1", room_name="call-e", call_id="call-e", agent_name="a")
    try:
        assert await runner.start_call(job, _join("call-e")) is None
        await asyncio.sleep(0.3)
        server.restart()  # SIGKILL, then a fresh, empty redis-server on the same port
        await asyncio.sleep(1.5)  # a few heartbeats
        ck = await store.load("call-e")
        assert ck is not None and ck.data == {"slots": {"name": "Ada"}}  # written again
        assert await store.orphaned() == []  # watched again, and not taken for dead
        assert "call-e" in (await store.live_workers())[runner.worker_id]["calls"]
        release.set()
        for _ in range(100):
            if done:
                break
            await asyncio.sleep(0.05)
        assert done == [JobOutcome.SUCCESS]
        ck = await store.load("call-e")
        assert ck is not None and ck.data["slots"]["zip"] == "12345"
        other = await store.acquire("call-e", "w2", room_name="call-e", agent_name="a",
                                    ttl_s=5)
        assert other is None  # finished: never run a second time
    finally:
        watchdog.stop()
        await watching
        await runner.aclose()
        await store.aclose()
        server.close()
    assert watchdog.redispatched == []
    assert any("came back without" in r.getMessage() for r in caplog.records)


async def test_after_an_empty_restart_a_newer_holder_keeps_the_call() -> None:
    server = PrivateRedis(redis_binary(), persist=False)
    server.start()
    store = RedisCheckpointStore.from_url(server.url, lease_ttl_s=5.0)
    try:
        old = await store.acquire("call-f", "w1", room_name="call-f", agent_name="a", ttl_s=5)
        assert old is not None
        server.restart()
        with contextlib.suppress(redis.exceptions.ConnectionError):
            await store.client.ping()  # the pooled connection died with the old server
        # The call was taken again first (say, dispatched anew): the old holder is fenced.
        new = await store.acquire("call-f", "w2", room_name="call-f", agent_name="a", ttl_s=5)
        assert new is not None
        assert await store.renew([old], 5.0) == [old]
        assert store.take_restored() == []
        with pytest.raises(LeaseLost):
            await store.save(old, {"x": 1})
        assert await store.save(new, {"x": 2}) == 1
    finally:
        await store.aclose()
        server.close()


def _join(name: str) -> Any:
    async def join() -> LocalRoom:
        return LocalRoom(name)

    return join


async def test_checkpoint_written_during_an_outage_is_caught_up_when_redis_is_back(
    own_redis: PrivateRedis, store: RedisCheckpointStore
) -> None:
    lease = await store.acquire("call-c", "w1", room_name="call-c", agent_name="a", ttl_s=30)
    assert lease is not None
    ctx = _context(store, lease)
    await ctx.save_checkpoint({"turn": 1})
    own_redis.stop()
    state: dict[str, Any] = {"turn": 2}
    assert await ctx.save_checkpoint(state) == 1  # no exception: the call goes on
    state["turn"] = 3
    assert await ctx.save_checkpoint(state) == 1  # buffered; the newest state will be written
    state["turn"] = 99  # the session keeps changing its dict: the buffer holds turn 3
    assert ctx.checkpoints.pending
    await asyncio.to_thread(own_redis.start)
    assert await ctx.checkpoints.flush(10.0)
    ck = await store.load("call-c")
    assert ck is not None and ck.data == {"turn": 3} and ck.token == lease.token
    assert await ctx.save_checkpoint({"turn": 4}) == ck.seq + 1


def _context(store: RedisCheckpointStore, lease: Lease) -> JobContext:
    from callcenter.dispatch.job import JobInfo

    job = JobInfo(job_id="J1", room_name=lease.call_id, call_id=lease.call_id, agent_name="a")
    return JobContext(job=job, room=LocalRoom(lease.call_id), worker_id=lease.worker_id,
                      lease=lease, resume=None, store=store)


async def test_heartbeat_and_watchdog_log_one_line_per_outage_and_recover(
    own_redis: PrivateRedis, store: RedisCheckpointStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.dispatch")
    runner = CallRunner(handler=scripted_call, store=store, timing=TIMING)
    runner.start()
    watchdog = Watchdog(store, _never, owner="w", interval_s=0.05, grace_s=0.5)
    watching = asyncio.get_running_loop().create_task(watchdog.run())
    try:
        await asyncio.sleep(0.3)
        await outage(own_redis, 2.0)
        await asyncio.sleep(1.0)
        assert (await store.live_workers()).keys() == {runner.worker_id}
    finally:
        watchdog.stop()
        await watching
        await runner.aclose()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info], lines
    assert sum("unreachable" in m for _l, m in lines) == 2, lines  # heartbeat + watchdog
    assert sum("reachable again" in m for _l, m in lines) == 2, lines


async def _never(_call: object) -> None:
    raise AssertionError("nothing should be re-dispatched")
