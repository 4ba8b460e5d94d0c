"""Streaming 2:1 decimation (16 -> 8 kHz) for the VAD, in numpy.

Phone audio has nothing above 4 kHz, and Silero's 8 kHz mode judges it better than its
16 kHz mode does (see `VoiceSettings.vad_rate`); a 16 kHz stream is halved on its way in.
The filter is a 33-tap half-band FIR (Kaiser-windowed sinc): every other tap is zero, so
one output sample costs 16 multiply-adds on the odd input samples plus the centre tap.
Pass band flat within 0.5 dB to 3.4 kHz, -6 dB at 4 kHz, below -25 dB from 4.6 kHz.

The filter is causal and its delay is exactly 16 input samples (1 ms at 16 kHz): output is
stamped with the media time it stands for. `VADStream` halves each window as it scores
it (`halve`: 32 samples of history, then the window's 512; a gated window is never
filtered), so its windows end 1 ms before the 16 kHz ones would and each is complete in
the same input frame as before (no extra detection delay). `HalfbandDecimator` does the
same for a whole stream, frame by frame (a 20 ms frame stamped `t` gives 160 samples
stamped `t - 1 ms`; the first output samples stand for the 1 ms before the stream began).
"""

from __future__ import annotations

import numpy as np

from callcenter.audio.frame import PCM16
from callcenter.audio.silero import F32

_TAPS = 33
_DELAY = (_TAPS - 1) // 2  # input samples


def _halfband() -> F32:
    n = np.arange(_TAPS) - _DELAY
    h = 0.5 * np.sinc(0.5 * n) * np.kaiser(_TAPS, 6.0)
    out: F32 = (h / h.sum()).astype(np.float32)
    return out


_H = _halfband()
# The taps at odd offsets from the start (the even ones are zero but the centre), reversed
# for `np.convolve`'s flip: out[k] = sum_m _ODD[m] * odd[k + 15 - m].
_ODD = _H[1::2].copy()
_CENTRE = np.float32(_H[_DELAY])
_LO, _HI = np.float32(-32768.0), np.float32(32767.0)
_MAXIMUM, _MINIMUM = np.maximum, np.minimum


HISTORY = 2 * _DELAY  # input samples before a block that its first outputs need


def halve(x: F32, out: F32 | None = None) -> F32:
    """Decimate one block: `x` is `HISTORY` input samples then 2n new ones (float32);
    returns the n outputs for the new ones (into `out` if given), output k standing for
    the input sample `2k - _DELAY` of the block's new samples (1 ms back at 16 kHz)."""
    n = (len(x) - HISTORY) // 2
    if out is None:
        out = np.empty(n, np.float32)
    np.multiply(x[_DELAY : _DELAY + 2 * n : 2], _CENTRE, out=out)
    out += np.convolve(x[1 : HISTORY + 2 * n : 2], _ODD, "valid")[:n]
    return out


class HalfbandDecimator:
    """Halves the sample rate of one gap-free int16 stream. One per stream (it keeps history)."""

    def __init__(self, input_rate: int) -> None:
        if input_rate <= 0 or input_rate % 2:
            raise ValueError(f"input_rate must be a positive even rate in Hz, got {input_rate}")
        self.input_rate = input_rate
        self.output_rate = input_rate // 2
        self._ms_per_in = 1000.0 / input_rate
        # The last 2 * _DELAY input samples, then room for the next frame's.
        self._buf = np.zeros(2 * _DELAY + 320, dtype=np.float32)
        self._odd: int | None = None  # an odd sample left over from the previous push

    @property
    def lag_ms(self) -> float:
        """How far the output trails the input (media ms): 16 input samples."""
        return _DELAY * self._ms_per_in

    def push(self, samples: PCM16, timestamp_ms: float) -> tuple[PCM16, float]:
        """Feed input samples starting at media time `timestamp_ms`; returns the output
        samples and the media time of the first one (`timestamp_ms - lag_ms` for an even
        number of samples per push)."""
        h = 2 * _DELAY
        pending = self._odd
        if not len(samples):
            return np.zeros(0, np.int16), timestamp_ms - self.lag_ms
        n = len(samples) + (pending is not None)
        m = n - (n & 1)
        first_ms = timestamp_ms - (self._ms_per_in if pending is not None else 0.0)
        buf = self._buf
        if len(buf) < h + m:
            grown = np.zeros(h + m, np.float32)
            grown[:h] = buf[:h]
            self._buf = buf = grown
        if pending is None:
            buf[h : h + m] = samples[:m]
        else:
            buf[h] = pending
            buf[h + 1 : h + m] = samples[: m - 1]
        self._odd = int(samples[-1]) if n & 1 else None
        out = halve(buf[: h + m])
        buf[:h] = buf[m : m + h]  # history for the next push
        # Truncated to int16 (within 1 LSB; the VAD does not mind): a rounding pass and
        # `np.clip` cost as much again as the filter (~3 us a 20 ms frame, timeit).
        _MAXIMUM(out, _LO, out=out)
        _MINIMUM(out, _HI, out=out)
        return out.astype(np.int16), first_ms - _DELAY * self._ms_per_in


__all__ = ["HalfbandDecimator"]
