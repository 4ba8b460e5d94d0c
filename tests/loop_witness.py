"""Proof that blocking work ran off the event loop: the loop ticked while it was running.

A timed check ("the loop lag stayed under 50 ms") fails on a loaded machine and says
nothing a benchmark does not say better. This one has no time in it: a wrapped call that
ran on the loop's thread blocks every tick, so it can never see one, while a call in a
worker thread waits (at its end) until the loop has ticked at least once during it. Load
only makes the proof take longer.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class LoopWitness:
    """Wrap blocking calls with `wrap`; run `heartbeat()` as a task on the loop meanwhile."""

    def __init__(self, *, give_up_s: float = 120.0) -> None:
        self._loop_thread = threading.get_ident()  # made on the loop's thread
        self._give_up_s = give_up_s
        self._running = False
        self._ticked = threading.Event()
        self.calls = 0
        self.witnessed = 0  # calls during which the loop ticked
        self.on_loop_thread = 0

    def wrap(self, fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> T:
            self.calls += 1
            if threading.get_ident() == self._loop_thread:
                self.on_loop_thread += 1
                return fn(*args, **kwargs)
            self._ticked.clear()
            self._running = True
            try:
                result = fn(*args, **kwargs)
                # Still "running": a tick the loop makes now is still during this call.
                if self._ticked.wait(self._give_up_s):
                    self.witnessed += 1
                return result
            finally:
                self._running = False

        return wrapped

    async def heartbeat(self) -> None:
        """Tick until cancelled, noting each tick that falls inside a wrapped call."""
        while True:
            if self._running:
                self._ticked.set()
            await asyncio.sleep(0.005)
