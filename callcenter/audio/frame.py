"""PCM16 mono audio frames: the unit every part of the media path passes around."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PCM16 = npt.NDArray[np.int16]


@dataclass(slots=True)
class AudioFrame:
    """A block of mono 16-bit PCM samples.

    `timestamp_ms` is the media time of the first sample, relative to the start of the
    stream it belongs to (not wall-clock), so turn timing survives scheduling jitter.
    """

    samples: PCM16
    sample_rate: int
    timestamp_ms: float = 0.0

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.samples) / self.sample_rate

    @property
    def end_ms(self) -> float:
        # Read several times per frame on the media path: no second property call.
        return self.timestamp_ms + 1000.0 * len(self.samples) / self.sample_rate

    def to_bytes(self) -> bytes:
        return self.samples.astype("<i2", copy=False).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, sample_rate: int, timestamp_ms: float = 0.0) -> AudioFrame:
        if len(data) % 2:
            raise ValueError(
                f"PCM16 data must have an even number of bytes, got {len(data)}: "
                "the stream is truncated or not 16-bit PCM"
            )
        return cls(np.frombuffer(data, dtype="<i2").astype(np.int16), sample_rate, timestamp_ms)

    @classmethod
    def silence(cls, duration_ms: float, sample_rate: int, timestamp_ms: float = 0.0) -> AudioFrame:
        n = round(sample_rate * duration_ms / 1000.0)
        return cls(np.zeros(n, dtype=np.int16), sample_rate, timestamp_ms)
