"""The agent's voice into a SIP call: queued 8 kHz PCM that the RTP tick takes 20 ms at a time."""

from __future__ import annotations

import asyncio
from collections import deque

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.resample import Quality, StreamResampler
from callcenter.rooms.base import AudioOutput


class SipAudioOutput(AudioOutput):
    """Audio queued for RTP; `clear()` drops it at once (barge-in).

    `capture_frame` waits while more than `max_buffer_ms` is queued, so the TTS stays just
    ahead of the line and a barge-in throws little away. `played_ms` counts real samples
    that left in packets (padding of a last partial frame is not counted).
    """

    def __init__(self, sample_rate: int, *, max_buffer_ms: float = 200.0) -> None:
        self.sample_rate = sample_rate
        self.max_buffer_ms = max_buffer_ms
        self.enabled = True
        self._chunks: deque[PCM16] = deque()
        self._head = 0  # read position in the first chunk
        self._queued = 0
        self._played = 0
        self._resamplers: dict[int, StreamResampler] = {}
        self._space = asyncio.Event()
        self._space.set()
        self._drained: list[asyncio.Future[None]] = []
        self._closed = False

    async def capture_frame(self, frame: AudioFrame) -> None:
        if not self.enabled or self._closed:
            return  # listen-only or hung up: the agent's speech goes nowhere
        if frame.sample_rate == self.sample_rate:
            self._push(frame.samples)
        else:
            rs = self._resamplers.get(frame.sample_rate)
            if rs is None:
                # QUICK: every frame comes straight back; better filters hold ~100 ms.
                rs = self._resamplers[frame.sample_rate] = StreamResampler(
                    frame.sample_rate, self.sample_rate, quality=Quality.QUICK)
            for f in rs.push(frame):
                self._push(f.samples)
        while self.queued_ms > self.max_buffer_ms and not self._closed:
            self._space.clear()
            await self._space.wait()

    def clear(self) -> None:
        self._chunks.clear()
        self._head = self._queued = 0
        self._signal()

    async def wait_for_playout(self) -> None:
        if not self._queued or self._closed:
            return
        fut = asyncio.get_running_loop().create_future()
        self._drained.append(fut)
        await fut

    @property
    def queued_ms(self) -> float:
        return 1000.0 * self._queued / self.sample_rate

    @property
    def played_ms(self) -> float:
        return 1000.0 * self._played / self.sample_rate

    def take(self, n: int) -> PCM16 | None:
        """The next `n` samples for a packet (zero-padded), or None when nothing is queued."""
        if not self._queued:
            return None
        out = np.zeros(n, dtype=np.int16)
        filled = 0
        while filled < n and self._chunks:
            chunk = self._chunks[0]
            m = min(n - filled, len(chunk) - self._head)
            out[filled : filled + m] = chunk[self._head : self._head + m]
            filled += m
            self._head += m
            if self._head == len(chunk):
                self._chunks.popleft()
                self._head = 0
        self._queued -= filled
        self._played += filled
        self._signal()
        return out

    def close(self) -> None:
        """The call is over: drop what is queued and release every waiter."""
        self._closed = True
        self.clear()
        self._space.set()

    def _push(self, samples: PCM16) -> None:
        if len(samples):
            self._chunks.append(samples)
            self._queued += len(samples)

    def _signal(self) -> None:
        if self.queued_ms <= self.max_buffer_ms:
            self._space.set()
        if not self._queued:
            for fut in self._drained:
                if not fut.done():
                    fut.set_result(None)
            self._drained.clear()
