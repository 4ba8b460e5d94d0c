"""Sample-rate conversion for AudioFrames, backed by `livekit.rtc.AudioResampler`.

The LiveKit resampler is a streaming filter: it keeps history between pushes and holds
back a few samples of latency, so one `StreamResampler` must be used per audio stream
(never shared between callers) and `flush()` must be called when the stream ends.
"""

from __future__ import annotations

import numpy as np
from livekit import rtc

from callcenter.audio.frame import PCM16, AudioFrame

Quality = rtc.AudioResamplerQuality


class StreamResampler:
    """Resamples one mono stream of AudioFrames from `input_rate` to `output_rate`.

    Output timestamps continue from the first input frame's timestamp, advanced by the
    number of samples emitted, so they stay gap-free even though the filter delays audio
    by a few milliseconds.
    """

    def __init__(
        self, input_rate: int, output_rate: int, *, quality: Quality = Quality.MEDIUM
    ) -> None:
        for name, rate in (("input_rate", input_rate), ("output_rate", output_rate)):
            if rate <= 0:
                raise ValueError(f"{name} must be a positive sample rate in Hz, got {rate}")
        self.input_rate = input_rate
        self.output_rate = output_rate
        self._passthrough = input_rate == output_rate
        self._resampler = (
            None
            if self._passthrough
            else rtc.AudioResampler(input_rate, output_rate, num_channels=1, quality=quality)
        )
        self._origin_ms: float | None = None
        self._emitted = 0

    def push(self, frame: AudioFrame) -> list[AudioFrame]:
        """Feed one frame; returns zero or more resampled frames (the filter buffers)."""
        if frame.sample_rate != self.input_rate:
            raise ValueError(
                f"frame is {frame.sample_rate} Hz but this resampler expects "
                f"{self.input_rate} Hz: use one StreamResampler per input rate"
            )
        if self._origin_ms is None:
            self._origin_ms = frame.timestamp_ms
        if self._resampler is None:
            return [self._stamp(frame.samples)]
        if len(frame.samples) == 0:
            return []
        lk = rtc.AudioFrame(frame.to_bytes(), self.input_rate, 1, len(frame.samples))
        return [self._stamp(_samples(f)) for f in self._resampler.push(lk)]

    def flush(self) -> list[AudioFrame]:
        """End of stream: returns the audio still held inside the filter."""
        if self._resampler is None:
            return []
        return [self._stamp(_samples(f)) for f in self._resampler.flush()]

    def _stamp(self, samples: PCM16) -> AudioFrame:
        ts = (self._origin_ms or 0.0) + 1000.0 * self._emitted / self.output_rate
        self._emitted += len(samples)
        return AudioFrame(samples, self.output_rate, ts)


def _samples(frame: rtc.AudioFrame) -> PCM16:
    # Copy: the rtc frame's buffer belongs to the FFI layer.
    return np.frombuffer(frame.data, dtype=np.int16).copy()


def resample_pcm(
    samples: PCM16, input_rate: int, output_rate: int, *, quality: Quality = Quality.MEDIUM
) -> PCM16:
    """Resample one whole buffer (a complete utterance or file) in one call."""
    if input_rate == output_rate:
        return samples.astype(np.int16, copy=True)
    rs = StreamResampler(input_rate, output_rate, quality=quality)
    parts = [f.samples for f in rs.push(AudioFrame(samples.astype(np.int16), input_rate))]
    parts += [f.samples for f in rs.flush()]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def resample_frame(frame: AudioFrame, output_rate: int) -> AudioFrame:
    """Resample a self-contained frame (not part of a continuing stream)."""
    return AudioFrame(
        resample_pcm(frame.samples, frame.sample_rate, output_rate), output_rate, frame.timestamp_ms
    )
