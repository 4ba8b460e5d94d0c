"""A bounded thread pool for offline speech engines' CPU work.

Whisper, Piper and pocketsphinx release the GIL inside their native code, so a thread pool
keeps the event loop free. The queue is bounded: when more jobs wait than `max_pending`,
`run` fails fast with a retryable SpeechError (the fallback adapter can then pick another
provider) instead of letting latency grow without limit.

A job is also bounded in time (`job_timeout_s`): native code cannot be interrupted, so a
decode that never returns (a constrained Whisper decode once ran past ten minutes) would
hold the pool's only thread and every later turn of every call behind it. Past the bound
the waiting turn gets a SpeechError (the flow hears nothing and reprompts), the stuck
thread is left to finish on its own, and later jobs go to a fresh pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from callcenter.speech.errors import SpeechError

T = TypeVar("T")
log = logging.getLogger(__name__)


class BoundedExecutor:
    """`workers` threads, at most `max_pending` jobs queued or running."""

    def __init__(self, name: str, *, workers: int = 1, max_pending: int = 16,
                 job_timeout_s: float | None = None) -> None:
        self.name = name
        self.max_pending = max_pending
        self.job_timeout_s = job_timeout_s
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._pending = 0
        # Jobs that overran `job_timeout_s` (their threads were abandoned): health and logs.
        self.overruns = 0

    @property
    def pending(self) -> int:
        return self._pending

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` in the pool; cancelling the awaiting task abandons the result."""
        with self._lock:
            if self._pending >= self.max_pending:
                raise SpeechError(
                    self.name,
                    f"{self._pending} jobs already queued (limit {self.max_pending}): "
                    "the machine is overloaded; lower call slots or add workers",
                )
            self._pending += 1

        slot = _Slot()
        future = self._pool.submit(fn)
        # A done-callback also fires for jobs cancelled before they started.
        future.add_done_callback(lambda _: self._release(slot))
        waiting = asyncio.wrap_future(future)
        if self.job_timeout_s is None:
            return await waiting
        try:
            return await asyncio.wait_for(waiting, self.job_timeout_s)
        except TimeoutError:
            raise self._overran(future, slot) from None

    def _overran(self, future: Future[T], slot: _Slot) -> SpeechError:
        """A job past its bound: its slot is freed; a job still queued is cancelled, and
        one still running (stuck in native code) keeps its pool while later jobs go to a
        fresh one."""
        self._release(slot)
        with self._lock:
            self.overruns += 1
            stuck = not future.cancel() and future.running()
            if stuck:
                old, self._pool = self._pool, ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix=self.name)
                old.shutdown(wait=False, cancel_futures=False)
        log.error("%s: a job ran past %g s%s", self.name, self.job_timeout_s,
                  ": its thread is abandoned, later jobs use a fresh pool" if stuck else "")
        return SpeechError(self.name, f"no result within {self.job_timeout_s:g} s: the "
                           "engine is stuck or the machine overloaded; the turn is dropped")

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            if not slot.held:  # once per job: a job past its bound is released early
                return
            slot.held = False
            self._pending -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Slot:
    """One job's place in the bound, given back once."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = True
