"""Phone-channel simulation: what a caller's voice sounds like after the PSTN.

Scripted callers pass their audio through this so tests hear what a real phone call
delivers: 8 kHz sampling, a 300-3400 Hz band, and G.711 mu-law quantization.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from callcenter.audio.frame import AudioFrame
from callcenter.audio.g711 import mulaw_decode, mulaw_encode
from callcenter.audio.resample import resample_pcm

PHONE_RATE = 8000
BAND_HZ = (300.0, 3400.0)
_TAPS = 129  # ~16 ms at 8 kHz: a sharp enough edge at 300 Hz, linear phase


def _bandpass_taps(rate: int, low: float, high: float, taps: int) -> npt.NDArray[np.float64]:
    # Windowed-sinc band-pass = low-pass(high) - low-pass(low).
    n = np.arange(taps) - (taps - 1) / 2
    window = np.blackman(taps)

    def lowpass(cut: float) -> npt.NDArray[np.float64]:
        h: npt.NDArray[np.float64] = 2 * cut / rate * np.sinc(2 * cut / rate * n) * window
        out: npt.NDArray[np.float64] = h / h.sum()
        return out

    return lowpass(high) - lowpass(low)


_TAPS_8K = _bandpass_taps(PHONE_RATE, *BAND_HZ, _TAPS)


def phone_channel(frame: AudioFrame, *, output_rate: int | None = None) -> AudioFrame:
    """Pass a whole utterance through a simulated phone line.

    Returns 8 kHz audio (or `output_rate`, resampled back up, for consumers that want
    wideband frames but narrowband content).
    """
    pcm = resample_pcm(frame.samples, frame.sample_rate, PHONE_RATE)
    filtered = np.convolve(pcm.astype(np.float64), _TAPS_8K, mode="same")
    narrow = mulaw_decode(mulaw_encode(np.clip(np.round(filtered), -32768, 32767).astype(np.int16)))
    rate = output_rate or PHONE_RATE
    return AudioFrame(resample_pcm(narrow, PHONE_RATE, rate), rate, frame.timestamp_ms)
