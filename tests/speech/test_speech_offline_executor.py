"""The offline engines' thread pool: bounded in queue length and in each job's time, so a
native decode that never returns cannot hold every later turn behind it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.executor import BoundedExecutor


async def test_a_stuck_job_fails_its_turn_and_later_jobs_run_on_a_fresh_pool() -> None:
    ex = BoundedExecutor("whisper", workers=1, max_pending=4, job_timeout_s=0.2)
    release = threading.Event()
    try:
        with pytest.raises(SpeechError, match=r"no result within 0.2 s"):
            await ex.run(lambda: release.wait(10))  # stands for a hung native decode
        assert ex.overruns == 1 and ex.pending == 0
        # The stuck thread still runs, yet the next turn is decoded at once.
        assert await ex.run(lambda: 42) == 42
        assert ex.pending == 0
    finally:
        release.set()
    await asyncio.sleep(0.05)
    assert ex.pending == 0  # the stuck job, finishing late, is not released twice
    ex.shutdown()


async def test_a_job_queued_past_its_bound_is_cancelled_not_run_later() -> None:
    ex = BoundedExecutor("grammar", workers=1, max_pending=4, job_timeout_s=0.3)
    ran: list[str] = []
    gate = threading.Event()
    first = asyncio.ensure_future(ex.run(lambda: gate.wait(0.5) and ran.append("first")))
    await asyncio.sleep(0.05)
    with pytest.raises(SpeechError):
        await ex.run(lambda: ran.append("queued"))
    gate.set()
    # The first job is running (not stuck for long) when its own bound passes or not: it
    # ends either way, and the queued one never runs.
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.sleep(0.1)
    assert "queued" not in ran and ex.pending == 0
    ex.shutdown()


async def test_without_a_bound_a_slow_job_is_waited_for_and_a_full_queue_fails_fast() -> None:
    ex = BoundedExecutor("piper", workers=1, max_pending=1)
    gate = threading.Event()
    slow = asyncio.ensure_future(ex.run(lambda: gate.wait(5)))
    await asyncio.sleep(0.05)
    with pytest.raises(SpeechError, match="limit 1"):
        await ex.run(lambda: None)
    gate.set()
    assert await slow is True
    assert ex.pending == 0 and ex.overruns == 0
    ex.shutdown()
