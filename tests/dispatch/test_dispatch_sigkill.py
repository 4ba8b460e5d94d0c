"""Real worker processes: SIGKILL mid-call fails over; SIGTERM drains; 2x SIGTERM stops now."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from callcenter.testing.demo import GOODBYE, QUESTIONS, RECOVERY_LINE
from callcenter.testing.livekit import FakeLiveKitServer
from callcenter.testing.livekit.rooms import TRANSCRIPT_KEY

pytestmark = pytest.mark.slow


class Procs:
    def __init__(self, server: FakeLiveKitServer, redis_url: str, prefix: str) -> None:
        self.server, self.redis_url, self.prefix = server, redis_url, prefix
        self.procs: list[asyncio.subprocess.Process] = []

    async def spawn(self) -> asyncio.subprocess.Process:
        env = {
            **os.environ,
            "LIVEKIT_URL": self.server.url,
            "LIVEKIT_API_KEY": self.server.api_key,
            "LIVEKIT_API_SECRET": self.server.api_secret,
            "REDIS_URL": self.redis_url,
            "LOG_LEVEL": "WARNING",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from callcenter.cli import main; main()",
            "worker",
            "--processes",
            "1",
            "--health-port",
            "0",
            "--room-connector",
            "callcenter.testing.livekit.rooms:redis_transcript_rooms",
            "--redis-prefix",
            self.prefix,
            # The scripted handler needs no caller audio, so the call can span processes.
            "--handler",
            "callcenter.testing.demo:scripted_call",
            env=env,
        )
        self.procs.append(proc)
        return proc


@pytest.fixture
async def procs(
    fake_livekit: FakeLiveKitServer, redis11_url: str, redis_prefix: str
) -> AsyncIterator[Procs]:
    p = Procs(fake_livekit, redis11_url, redis_prefix)
    yield p
    for proc in p.procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _worker_pids(r: aioredis.Redis, prefix: str) -> dict[str, int]:
    out = {}
    async for key in r.scan_iter(match=prefix + "worker:*"):
        info = json.loads(str(await r.get(key)))
        out[info["worker_id"]] = info["pid"]
    return out


async def _until(pred: object, timeout: float, what: str) -> None:
    assert callable(pred)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_sigkilled_worker_call_continues_on_another_worker_from_checkpoint(
    fake_livekit: FakeLiveKitServer, redis11_url: str, procs: Procs
) -> None:
    r = aioredis.Redis.from_url(redis11_url, decode_responses=True)
    fa = fake_livekit.agents
    await procs.spawn()
    await procs.spawn()
    await fa.wait_for(lambda: len(fa.workers) == 2, timeout=30)
    room = f"call-kill-{procs.prefix.split(':')[1]}"
    ckpt = f"{procs.prefix}ckpt:{room}"
    job = await fa.dispatch(room, agent_name="callcenter")
    assert job is not None

    async def two_turns() -> bool:
        data = await r.hget(ckpt, "data")
        return data is not None and json.loads(data)["turn"] >= 2

    await _until(two_turns, 15, "two answered turns")
    owner = await r.hget(ckpt, "worker")
    pid = (await _worker_pids(r, procs.prefix))[str(owner)]
    os.kill(pid, signal.SIGKILL)
    t_kill = time.monotonic()
    key = TRANSCRIPT_KEY.format(room=room)

    async def recovered() -> bool:
        return RECOVERY_LINE in await r.lrange(key, 0, -1)

    await _until(recovered, 10, "the recovery line from the new worker")
    failover_s = time.monotonic() - t_kill

    async def finished() -> bool:
        return GOODBYE in await r.lrange(key, 0, -1)

    await _until(finished, 15, "the end of the call")
    said = await r.lrange(key, 0, -1)
    for _slot, question in QUESTIONS:
        assert said.count(question) == 1, said
    assert said.count(RECOVERY_LINE) == 1
    data = json.loads(str(await r.hget(ckpt, "data")))
    assert set(data["slots"]) == {s for s, _ in QUESTIONS}
    assert await r.hget(ckpt, "worker") != owner
    print(f"failover_s={failover_s:.2f}")
    assert failover_s <= 3.0
    await r.aclose()


async def test_sigterm_drains_and_a_second_sigterm_stops_at_once(
    fake_livekit: FakeLiveKitServer, redis11_url: str, procs: Procs
) -> None:
    r = aioredis.Redis.from_url(redis11_url, decode_responses=True)
    fa = fake_livekit.agents
    proc = await procs.spawn()
    await fa.wait_for(lambda: len(fa.workers) == 1, timeout=30)
    job = await fa.dispatch("call-long", agent_name="callcenter", metadata='{"answer_delay_s": 30}')
    assert job is not None
    await fa.wait_for(lambda: job.statuses != [], timeout=10)
    proc.send_signal(signal.SIGTERM)
    await fa.wait_for(lambda: all(w.draining for w in fa.workers.values()), timeout=5)
    assert await fa.dispatch("call-new", agent_name="callcenter") is None
    await asyncio.sleep(0.3)
    assert proc.returncode is None  # still finishing its call
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(proc.wait(), 10)
    assert code == 1 and time.monotonic() - t0 < 5
    # The call was handed over, not dropped: it is waiting for the watchdog.
    assert await r.hexists(procs.prefix + "active", "call-long")
    assert not await r.exists(procs.prefix + "lease:call-long")
    await r.aclose()


async def test_sigterm_with_no_calls_exits_cleanly(
    fake_livekit: FakeLiveKitServer, procs: Procs
) -> None:
    fa = fake_livekit.agents
    proc = await procs.spawn()
    await fa.wait_for(lambda: len(fa.workers) == 1, timeout=30)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
