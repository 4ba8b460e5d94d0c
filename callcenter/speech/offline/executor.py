"""A bounded thread pool for offline speech engines' CPU work.

Whisper, Piper and pocketsphinx release the GIL inside their native code, so a thread pool
keeps the event loop free. The queue is bounded: when more jobs wait than `max_pending`,
`run` fails fast with a retryable SpeechError (the fallback adapter can then pick another
provider) instead of letting latency grow without limit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from callcenter.speech.errors import SpeechError

T = TypeVar("T")


class BoundedExecutor:
    """`workers` threads, at most `max_pending` jobs queued or running."""

    def __init__(self, name: str, *, workers: int = 1, max_pending: int = 16) -> None:
        self.name = name
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._pending = 0

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

        future = self._pool.submit(fn)
        # A done-callback also fires for jobs cancelled before they started.
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: object) -> None:
        with self._lock:
            self._pending -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
