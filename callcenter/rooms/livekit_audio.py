"""The agent's audio output on LiveKit: an `rtc.AudioSource` published as a local track."""

from __future__ import annotations

from livekit import rtc

from callcenter.audio.frame import AudioFrame
from callcenter.audio.resample import StreamResampler
from callcenter.rooms.base import AudioOutput


class LiveKitAudioOutput(AudioOutput):
    """Frames go into the source's queue (which paces them in real time); `clear()` drops it.

    `played_ms` counts what actually left: everything captured, minus what is still queued,
    minus what a `clear()` threw away.
    """

    def __init__(self, source: rtc.AudioSource) -> None:
        self.source = source
        self.sample_rate = source.sample_rate
        self._captured_ms = 0.0
        self._resamplers: dict[int, StreamResampler] = {}
        self.enabled = True

    async def capture_frame(self, frame: AudioFrame) -> None:
        if not self.enabled:
            return  # listen-only: the agent is silent, its speech is dropped
        frames = [frame]
        if frame.sample_rate != self.sample_rate:
            rs = self._resamplers.get(frame.sample_rate)
            if rs is None:
                rs = self._resamplers[frame.sample_rate] = StreamResampler(
                    frame.sample_rate, self.sample_rate
                )
            frames = rs.push(frame)
        for f in frames:
            n = len(f.samples)
            if n == 0:
                continue
            await self.source.capture_frame(rtc.AudioFrame(f.to_bytes(), self.sample_rate, 1, n))
            self._captured_ms += 1000.0 * n / self.sample_rate

    def clear(self) -> None:
        self._captured_ms -= self.queued_ms
        self.source.clear_queue()

    async def wait_for_playout(self) -> None:
        await self.source.wait_for_playout()

    @property
    def queued_ms(self) -> float:
        return 1000.0 * self.source.queued_duration

    @property
    def played_ms(self) -> float:
        return max(0.0, self._captured_ms - self.queued_ms)
