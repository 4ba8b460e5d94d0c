"""Audio plumbing of `LocalRoom`: sample-accurate queues and the agent's paced output.

Kept apart from the room so the room module stays about participants and ticks; nothing
here is used outside `callcenter.rooms.local`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.resample import Quality, StreamResampler
from callcenter.rooms.base import AudioOutput


class _SampleQueue:
    """Queued PCM chunks, read in fixed-size pieces without concatenating everything."""

    def __init__(self) -> None:
        self._chunks: deque[PCM16] = deque()
        self._head = 0
        self.samples = 0

    def push(self, samples: PCM16) -> None:
        if len(samples):
            self._chunks.append(samples)
            self.samples += len(samples)

    def pop(self, n: int) -> PCM16 | None:
        """Up to `n` samples (zero-padded to `n`), or None when empty."""
        if not self.samples:
            return None
        first = self._chunks[0]
        if len(first) - self._head >= n:  # common case: one slice, no copy
            out = first[self._head : self._head + n]
            self._head += n
            if self._head == len(first):
                self._chunks.popleft()
                self._head = 0
            self.samples -= n
            return out
        buf = np.zeros(n, dtype=np.int16)
        filled = 0
        while filled < n and self._chunks:
            chunk = self._chunks[0]
            take = min(n - filled, len(chunk) - self._head)
            buf[filled : filled + take] = chunk[self._head : self._head + take]
            filled += take
            self._head += take
            if self._head == len(chunk):
                self._chunks.popleft()
                self._head = 0
        self.samples -= filled
        return buf

    def clear(self) -> None:
        self._chunks.clear()
        self._head = 0
        self.samples = 0


class _Timeline:
    """Queued audio placed on the room's media time line with sample accuracy.

    Audio queued while nothing is playing starts at the moment it was queued, not at the
    next 20 ms boundary (a real-time sender plays samples as soon as it has them); audio
    cleared mid-frame still plays up to the moment of the clear.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.queue = _SampleQueue()
        self._start_at: float | None = None
        self._tail: PCM16 | None = None
        self.end_ms = 0.0  # media time at which queued audio runs out
        self.played = 0  # real samples played so far (no padding)

    @property
    def idle(self) -> bool:
        return not self.queue.samples and self._tail is None

    def push(self, samples: PCM16, now_ms: float) -> float:
        """Queue audio; returns the media time of its first sample."""
        if self.idle:
            self._start_at = self.end_ms = now_ms
        start = self.end_ms
        self.queue.push(samples)
        self.end_ms += 1000.0 * len(samples) / self.rate
        return start

    def clear(self, now_ms: float, frame_start_ms: float) -> None:
        begin = max(frame_start_ms, self._start_at or frame_start_ms)
        due = round((now_ms - begin) * self.rate / 1000.0)
        if due > 0 and self.queue.samples:
            tail = self.queue.pop(min(due, self.queue.samples))
            self._tail = tail
        self.queue.clear()
        self.end_ms = now_ms

    def frame(self, ts: float, n: int) -> PCM16 | None:
        """The `n` samples of the frame starting at `ts`, or None if nothing plays in it."""
        lead = 0
        if self._start_at is not None:
            lead = round((self._start_at - ts) * self.rate / 1000.0)
            if lead >= n:
                return None
            lead = max(0, lead)
            self._start_at = None
        tail, self._tail = self._tail, None
        if tail is not None:
            body: PCM16 | None = tail
            self.played += len(tail)
        elif self.queue.samples:
            self.played += min(n - lead, self.queue.samples)
            body = self.queue.pop(n - lead)
        else:
            return None
        assert body is not None
        if lead == 0 and len(body) == n:
            return body
        out = np.zeros(n, dtype=np.int16)
        m = min(len(body), n - lead)
        out[lead : lead + m] = body[:m]
        return out


class LocalAudioOutput(AudioOutput):
    """The agent's output: queued audio played one frame per tick; `clear()` drops it."""

    def __init__(
        self,
        sample_rate: int,
        now_ms: Callable[[], float],
        frame_start_ms: Callable[[], float],
        *,
        max_buffer_ms: float = 200.0,
    ) -> None:
        self.sample_rate = sample_rate
        self.max_buffer_ms = max_buffer_ms
        self.enabled = True
        self._now_ms = now_ms
        self._frame_start_ms = frame_start_ms
        self._line = _Timeline(sample_rate)
        self._queue = self._line.queue
        self._resamplers: dict[int, StreamResampler] = {}
        self._space: asyncio.Event | None = None
        self._drained: list[asyncio.Future[None]] = []

    async def capture_frame(self, frame: AudioFrame) -> None:
        if frame.sample_rate != self.sample_rate:
            rs = self._resamplers.get(frame.sample_rate)
            if rs is None:
                rs = self._resamplers[frame.sample_rate] = _realtime_resampler(
                    frame.sample_rate, self.sample_rate
                )
            for f in rs.push(frame):
                self._line.push(f.samples, self._now_ms())
        else:
            self._line.push(frame.samples, self._now_ms())
        # Back-pressure: keep only a small buffer ahead of playout, so clear() loses little
        # and the producer (TTS) stays just ahead of the speaker.
        while self.queued_ms > self.max_buffer_ms:
            if self._space is None:
                self._space = asyncio.Event()
            self._space.clear()
            await self._space.wait()

    def clear(self) -> None:
        self._line.clear(self._now_ms(), self._frame_start_ms())
        self._signal()

    async def wait_for_playout(self) -> None:
        if not self._queue.samples:
            return
        fut = asyncio.get_running_loop().create_future()
        self._drained.append(fut)
        await fut

    @property
    def queued_ms(self) -> float:
        return 1000.0 * self._queue.samples / self.sample_rate

    @property
    def played_ms(self) -> float:
        return 1000.0 * self._line.played / self.sample_rate

    def _play(self, ts: float, n: int) -> PCM16 | None:
        """One tick: the frame starting at media time `ts` (None when nothing plays)."""
        out = self._line.frame(ts, n)
        if out is not None:
            self._signal()
        return out if self.enabled else None

    def _signal(self) -> None:
        if self._space is not None and self.queued_ms <= self.max_buffer_ms:
            self._space.set()
        if not self._queue.samples and self._drained:
            for fut in self._drained:
                if not fut.done():
                    fut.set_result(None)
            self._drained.clear()


def _realtime_resampler(src: int, dst: int) -> StreamResampler:
    # QUICK returns every 20 ms frame at once; the higher qualities buffer ~100 ms of
    # audio inside the filter, which would add that much latency to a live call.
    return StreamResampler(src, dst, quality=Quality.QUICK)


_ZEROS: dict[int, PCM16] = {}


def _zeros(n: int) -> PCM16:
    # One shared read-only silent frame per size: silence costs no allocation per tick.
    z = _ZEROS.get(n)
    if z is None:
        z = _ZEROS[n] = np.zeros(n, dtype=np.int16)
        z.flags.writeable = False
    return z
