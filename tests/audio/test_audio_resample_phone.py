"""Streaming resampling and the simulated phone channel."""

import itertools

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.audio.phone import PHONE_RATE, phone_channel
from callcenter.audio.resample import StreamResampler, resample_frame, resample_pcm


def _tone(freq: float, rate: int, seconds: float, amp: float = 8000) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.int16)


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_streaming_48k_to_16k_keeps_length_pitch_and_timestamps() -> None:
    rs = StreamResampler(48000, 16000)
    tone = _tone(1000, 48000, 1.0)
    out: list[AudioFrame] = []
    for i in range(50):
        out += rs.push(AudioFrame(tone[i * 960 : (i + 1) * 960], 48000, 500.0 + i * 20))
    out += rs.flush()
    total = np.concatenate([f.samples for f in out])
    assert len(total) == pytest.approx(16000, abs=2)
    assert _peak_hz(total[2000:14000], 16000) == pytest.approx(1000, abs=3)
    assert out[0].timestamp_ms == 500.0
    for a, b in itertools.pairwise(out):  # contiguous media time
        assert b.timestamp_ms == pytest.approx(a.end_ms)


def test_stream_rejects_frames_at_the_wrong_rate() -> None:
    rs = StreamResampler(16000, 8000)
    with pytest.raises(ValueError, match="is 8000 Hz but this resampler expects 16000 Hz"):
        rs.push(AudioFrame(np.zeros(80, np.int16), 8000))


def test_same_rate_is_a_passthrough_copy() -> None:
    x = _tone(300, 16000, 0.1)
    y = resample_pcm(x, 16000, 16000)
    assert np.array_equal(x, y) and y is not x


def test_one_shot_upsampling_of_a_frame() -> None:
    f = resample_frame(AudioFrame(_tone(440, 8000, 0.5), 8000, 42.0), 16000)
    assert (f.sample_rate, f.timestamp_ms) == (16000, 42.0)
    assert len(f.samples) == pytest.approx(8000, abs=2)
    assert _peak_hz(f.samples, 16000) == pytest.approx(440, abs=3)


def test_phone_channel_passes_the_voice_band_and_cuts_outside_it() -> None:
    rate = 16000
    for freq, keep in ((1000, True), (2500, True), (100, False), (5000, False)):
        src = _tone(freq, rate, 0.5)
        out = phone_channel(AudioFrame(src, rate))
        assert out.sample_rate == PHONE_RATE
        ratio = _rms(out.samples[400:-400]) / _rms(src)
        assert (ratio > 0.8) if keep else (ratio < 0.1), (freq, ratio)


def test_phone_channel_can_return_wideband_frames_of_narrowband_audio() -> None:
    src = _tone(1000, 16000, 0.25)
    out = phone_channel(AudioFrame(src, 16000, 7.0), output_rate=16000)
    assert (out.sample_rate, out.timestamp_ms) == (16000, 7.0)
    assert len(out.samples) == pytest.approx(len(src), abs=4)
    # mu-law quantization is audible as noise but the tone survives.
    assert _peak_hz(out.samples, 16000) == pytest.approx(1000, abs=5)
