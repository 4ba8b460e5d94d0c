"""Clocks for media pacing: real time for calls and benchmarks, virtual time for tests.

The room, the voice session and the scripted caller all read time from one `Clock`, so a
60-second call can run on a `VirtualClock` in a fraction of a second with exactly the same
ordering of events as in real time. `Ticker` drives every room on a clock from one task
(one wake-up per 20 ms for the whole process, not one per call).
"""

from __future__ import annotations

import abc
import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Clock(abc.ABC):
    """Seconds since the clock's epoch, and sleeping on that time line."""

    @abc.abstractmethod
    def now(self) -> float: ...

    @abc.abstractmethod
    async def sleep_until(self, deadline: float) -> None: ...

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + max(0.0, seconds))

    def now_ms(self) -> float:
        return 1000.0 * self.now()

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound `fn` in a worker thread without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def ticker(self, interval: float = 0.02) -> Ticker:
        """The clock's shared ticker for `interval` (created on first use)."""
        tickers: dict[float, Ticker] = self.__dict__.setdefault("_tickers", {})
        tk = tickers.get(interval)
        if tk is None:
            tk = tickers[interval] = Ticker(self, interval)
        return tk


class RealClock(Clock):
    """Wall-clock time (the event loop's monotonic clock), epoch = creation."""

    def __init__(self) -> None:
        self._epoch = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._epoch

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        await asyncio.sleep(delay if delay > 0 else 0)


class VirtualClock(Clock):
    """Time that jumps to the next timer whenever the event loop has nothing else to do.

    Only code that sleeps on this clock is paced by it: do not mix with real `asyncio.sleep`
    or thread work you expect to take time (wrap it in `run_blocking`, which freezes time
    until the thread is done).
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._busy = 0
        self._runner: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._timers, (deadline, next(self._seq), fut))
        self._ensure_runner()
        await fut

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        self._busy += 1
        try:
            return await super().run_blocking(fn, *args)
        finally:
            self._busy -= 1
            self._poke()

    def _ensure_runner(self) -> None:
        if self._runner is None or self._runner.done():
            self._wake = asyncio.Event()
            self._runner = asyncio.get_running_loop().create_task(self._run())
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _settle(self) -> None:
        """Yield until no callback is ready to run (the loop is idle at this instant)."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)
        for _ in range(100_000):
            await asyncio.sleep(0)
            if ready is not None and not ready and self._busy == 0:
                return
            if ready is None:  # unknown loop implementation: settle by count
                for _ in range(50):
                    await asyncio.sleep(0)
                return
            if self._busy:
                await asyncio.sleep(0.0005)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._settle()
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)  # cancelled sleeper
            if not self._timers:
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = self._timers[0][0]
            self._now = max(self._now, deadline)
            while self._timers and self._timers[0][0] <= self._now:
                _, _, fut = heapq.heappop(self._timers)
                if not fut.done():
                    fut.set_result(None)

    async def aclose(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)


TickCallback = Callable[[int, float], None]


class Ticker:
    """Calls every registered callback once per `interval` on one task.

    Callbacks are spread over `phases` evenly spaced slots inside the interval (callback
    i runs in slot i % phases), so 200 rooms cost four bursts of 50 every 20 ms instead of
    one burst of 200: each room is still served exactly every `interval`, and the event
    loop never owes more than a quarter of the work at once.

    Callbacks get `(tick_index, tick_time)`; they must be quick and must not await.
    `late_ticks` counts slots that ran more than one interval after they were due.
    """

    def __init__(self, clock: Clock, interval: float, phases: int = 4) -> None:
        self.clock = clock
        self.interval = interval
        self.phases = phases
        self._slots: list[dict[int, TickCallback]] = [{} for _ in range(phases)]
        self._ids = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0
        self.late_ticks = 0
        self.max_lag = 0.0

    def add(self, callback: TickCallback) -> int:
        handle = next(self._ids)
        # Fill the emptiest slot, so the bursts stay even as rooms come and go.
        min(self._slots, key=len)[handle] = callback
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return handle

    def remove(self, handle: int) -> None:
        for slot in self._slots:
            slot.pop(handle, None)

    def __len__(self) -> int:
        return sum(len(s) for s in self._slots)

    def reset_stats(self) -> None:
        self.ticks = self.late_ticks = 0
        self.max_lag = 0.0

    async def _run(self) -> None:
        # Slot j is due at j * step on the clock's time line, so pacing never drifts.
        step = self.interval / self.phases
        j = int(self.clock.now() / step) + 1
        while len(self):
            due = j * step
            await self.clock.sleep_until(due)
            lag = self.clock.now() - due
            self.ticks += 1
            self.max_lag = max(self.max_lag, lag)
            if lag > self.interval:
                self.late_ticks += 1
            for cb in list(self._slots[j % self.phases].values()):
                cb(j // self.phases, due)
            j += 1
