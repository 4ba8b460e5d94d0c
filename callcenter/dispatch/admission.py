"""Admission: take a job only with a free call slot and CPU headroom."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class CpuMeter:
    """This process's CPU use as a fraction of one core, over the last sampling interval.

    One core is the right unit: the event loop (where the media path runs) holds the GIL,
    so a worker process saturates near one core however many the machine has.
    """

    clock: Callable[[], float] = time.monotonic
    cpu_clock: Callable[[], float] = time.process_time
    _last_wall: float = field(default=0.0, init=False)
    _last_cpu: float = field(default=0.0, init=False)
    value: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._last_wall, self._last_cpu = self.clock(), self.cpu_clock()

    min_window_s: float = 0.25

    def reset(self) -> None:
        """Start measuring now (so start-up work such as imports does not count)."""
        self._last_wall, self._last_cpu = self.clock(), self.cpu_clock()
        self.value = 0.0

    def sample(self) -> float:
        """Update the value if at least `min_window_s` passed since the last update."""
        wall, cpu = self.clock(), self.cpu_clock()
        if wall - self._last_wall >= self.min_window_s:
            self.value = max(0.0, (cpu - self._last_cpu) / (wall - self._last_wall))
            self._last_wall, self._last_cpu = wall, cpu
        return self.value


@dataclass
class Admission:
    """Slots and CPU threshold for one worker process."""

    max_calls: int = 20
    cpu_threshold: float = 0.85
    cpu: CpuMeter = field(default_factory=CpuMeter)

    def __post_init__(self) -> None:
        if self.max_calls < 1:
            raise ValueError(f"max_calls must be at least 1, got {self.max_calls}")
        if not 0.0 < self.cpu_threshold <= float(os.cpu_count() or 1):
            raise ValueError(
                f"cpu_threshold {self.cpu_threshold} must be a fraction of a core in (0, cores]"
            )

    def accepts(self, active_calls: int) -> bool:
        return active_calls < self.max_calls and self.cpu.value < self.cpu_threshold

    def load(self, active_calls: int) -> float:
        """0..1 for LiveKit's `UpdateWorkerStatus.load`: the tighter of slots and CPU."""
        return min(1.0, max(active_calls / self.max_calls, self.cpu.value / self.cpu_threshold))
