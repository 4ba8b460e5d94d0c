"""`callcenter worker --processes 2`: real processes against the fake LiveKit server.

Two children register; a SIGKILLed child is replaced by a new one (a new registration);
SIGTERM on the parent drains every child (a running call finishes) and the parent exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from callcenter.testing.demo import GOODBYE
from callcenter.testing.livekit import FakeLiveKitServer
from callcenter.testing.livekit.rooms import TRANSCRIPT_KEY

pytestmark = pytest.mark.slow


def child_pids(parent: int) -> set[int]:
    text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
    return {int(p) for p in text.split()}


async def start_pool(server: FakeLiveKitServer, cwd: Path, *args: str,
                     redis_url: str = "") -> asyncio.subprocess.Process:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "REDIS_"))},
        "LIVEKIT_URL": server.url,
        "LIVEKIT_API_KEY": server.api_key,
        "LIVEKIT_API_SECRET": server.api_secret,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter", "worker", "--processes", "2",
        "--health-port", "0", "--handler", "callcenter.testing.demo:scripted_call", *args,
        cwd=cwd, env=env,
    )


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        pids = child_pids(proc.pid)
        proc.kill()
        await proc.wait()
        for pid in pids:  # the children drain when the parent dies; do not wait for that
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
async def pool(fake_livekit: FakeLiveKitServer, tmp_path: Path
               ) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await start_pool(fake_livekit, tmp_path)
    yield proc
    await stop(proc)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_pool_keeps_two_workers_replaces_a_killed_one_and_drains_on_sigterm(
    fake_livekit: FakeLiveKitServer, pool: asyncio.subprocess.Process
) -> None:
    fa = fake_livekit.agents
    await fa.wait_for(lambda: len(fa.workers) == 2, timeout=60)
    first = set(fa.workers)
    pids = child_pids(pool.pid)
    assert len(pids) == 2

    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    await fa.wait_for(lambda: len(fa.workers) == 2 and set(fa.workers) != first, timeout=60)
    assert len(set(fa.workers) & first) == 1  # the survivor kept its connection
    now = child_pids(pool.pid)
    assert victim not in now and len(now) == 2

    pool.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(pool.wait(), 60) == 0
    await fa.wait_for(lambda: not fa.workers, timeout=10)
    for pid in now:  # every child is gone, not orphaned
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_sigterm_lets_a_running_call_finish_then_the_pool_exits_0(
    fake_livekit: FakeLiveKitServer, redis11_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    r = aioredis.Redis.from_url(redis11_url, decode_responses=True)
    fa = fake_livekit.agents
    proc = await start_pool(
        fake_livekit, tmp_path, "--redis-prefix", redis_prefix, "--room-connector",
        "callcenter.testing.livekit.rooms:redis_transcript_rooms", redis_url=redis11_url)
    try:
        await fa.wait_for(lambda: len(fa.workers) == 2, timeout=60)
        room = f"call-pool-{redis_prefix.split(':')[1]}"
        job = await fa.dispatch(room, agent_name="callcenter",
                                metadata='{"answer_delay_s": 0.5}')
        assert job is not None
        await fa.wait_for(lambda: job.statuses != [], timeout=10)
        proc.send_signal(signal.SIGTERM)
        await fa.wait_for(lambda: all(w.draining for w in fa.workers.values()), timeout=10)
        assert await fa.dispatch("call-late", agent_name="callcenter") is None
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        said = await r.lrange(TRANSCRIPT_KEY.format(room=room), 0, -1)
        assert said[-1] == GOODBYE  # finished during the drain, not cut off
    finally:
        await stop(proc)
        await r.aclose()
