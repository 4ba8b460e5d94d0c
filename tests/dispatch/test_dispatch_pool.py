"""`callcenter worker --processes 2`: real processes against the fake LiveKit server.

Two children register; a SIGKILLed child is replaced by a new one (a new registration);
SIGTERM on the parent drains every child and the parent exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.testing.livekit import FakeLiveKitServer

pytestmark = pytest.mark.slow


def child_pids(parent: int) -> set[int]:
    text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
    return {int(p) for p in text.split()}


@pytest.fixture
async def pool(fake_livekit: FakeLiveKitServer, tmp_path: Path
               ) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "REDIS_"))},
        "LIVEKIT_URL": fake_livekit.url,
        "LIVEKIT_API_KEY": fake_livekit.api_key,
        "LIVEKIT_API_SECRET": fake_livekit.api_secret,
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter", "worker", "--processes", "2",
        "--health-port", "0", "--handler", "callcenter.testing.demo:scripted_call",
        cwd=tmp_path, env=env,
    )
    yield proc
    if proc.returncode is None:
        pids = child_pids(proc.pid)
        proc.kill()
        await proc.wait()
        for pid in pids:  # the children drain when the parent dies; do not wait for that
            os.kill(pid, signal.SIGKILL)


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
