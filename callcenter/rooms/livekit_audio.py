"""The agent's audio on LiveKit: a participant's track in as our frames, our frames out into
an `rtc.AudioSource` published as a local track.

Both directions live here so every user of `livekit.rtc` media (the production room, the
loopback bench) runs the same conversion code.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

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


async def track_frames(track: rtc.Track, sample_rate: int) -> AsyncIterator[AudioFrame]:
    """`track`'s audio as 20 ms mono frames at `sample_rate` (the SDK resamples).

    Media times count samples from 0 at the first frame; the stream is closed when the
    iteration ends or is closed.
    """
    stream = rtc.AudioStream(track, sample_rate=sample_rate, num_channels=1, frame_size_ms=20)
    t_ms = 0.0
    try:
        async for ev in stream:
            f = ev.frame
            samples = AudioFrame.from_bytes(bytes(f.data), f.sample_rate, t_ms)
            t_ms += samples.duration_ms
            yield samples
    finally:
        await stream.aclose()


@contextlib.asynccontextmanager
async def closing_frames(frames: AsyncIterator[AudioFrame]) -> AsyncIterator[
    AsyncIterator[AudioFrame]
]:
    """Close `frames` (and so its `rtc.AudioStream`) when the block ends, however it ends."""
    try:
        yield frames
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()
