"""The VAD's 2:1 decimator: stream-consistent, stamped in media time, a low-pass at 4 kHz."""

from __future__ import annotations

import numpy as np
import pytest

from callcenter.audio.decimate import HalfbandDecimator


def _tone(hz: float, ms: float, rate: int = 16000, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(int(rate * ms / 1000)) / rate
    return np.asarray(amp * np.sin(2 * np.pi * hz * t), dtype=np.int16)


def _run(x: np.ndarray, sizes: list[int]) -> tuple[np.ndarray, list[float]]:
    d = HalfbandDecimator(16000)
    outs, stamps, i = [], [], 0
    for n in sizes:
        y, ts = d.push(x[i : i + n], 1000.0 * i / 16000)
        outs.append(y)
        stamps.append(ts)
        i += n
    return np.concatenate(outs), stamps


def test_output_does_not_depend_on_how_the_input_is_cut() -> None:
    x = np.random.default_rng(3).integers(-9000, 9000, 16000).astype(np.int16)
    whole, _ = _run(x, [16000])
    sizes = [320] * 10 + [7, 13, 1, 0, 299, 160, 33] + [320] * 30
    cut, _ = _run(x, [*sizes, len(x) - sum(sizes)])
    assert len(whole) == len(cut) == 8000
    np.testing.assert_array_equal(whole, cut)


def test_stamps_are_media_time_minus_the_one_ms_delay() -> None:
    x = np.zeros(320 * 3 + 7, np.int16)
    _, stamps = _run(x, [320, 320, 7, 320])
    assert stamps[:3] == [-1.0, 19.0, 39.0]
    # 7 samples: 3 out, 1 held back; the next push starts with it (one input sample early).
    assert stamps[3] == pytest.approx(40.4375 - 1.0 - 1000.0 / 16000)
    assert HalfbandDecimator(16000).lag_ms == 1.0


def test_a_click_comes_out_one_ms_later_at_its_media_time() -> None:
    x = np.zeros(3200, np.int16)
    x[1600] = 20000  # 100 ms
    y, stamps = _run(x, [320] * 10)
    peak = int(np.argmax(np.abs(y)))
    assert stamps[0] + 1000.0 * peak / 8000 == pytest.approx(100.0)


@pytest.mark.parametrize(("hz", "lo_db", "hi_db"), [(300, -0.5, 0.5), (1000, -0.5, 0.5),
                                                   (3400, -1.0, 0.5), (5000, -200, -25),
                                                   (7000, -200, -25)])
def test_passes_the_phone_band_and_stops_above_four_khz(hz: float, lo_db: float,
                                                        hi_db: float) -> None:
    x = _tone(hz, 500)
    y, _ = _run(x, [320] * 25)
    rms_in = np.sqrt(np.mean(x[800:].astype(float) ** 2))
    rms_out = np.sqrt(np.mean(y[400:].astype(float) ** 2))
    db = 20 * np.log10(max(rms_out, 1e-9) / rms_in)
    assert lo_db <= db <= hi_db


def test_full_scale_input_does_not_wrap() -> None:
    x = np.where(np.arange(3200) % 40 < 20, 32767, -32768).astype(np.int16)
    y, _ = _run(x, [320] * 10)
    n = np.arange(33) - 16
    h = 0.5 * np.sinc(0.5 * n) * np.kaiser(33, 6.0)
    ref = np.convolve(x.astype(float), h / h.sum())[: len(x) : 2]  # causal, 16-sample delay
    assert ref.max() > 32767  # the filter overshoots full scale here ...
    np.testing.assert_allclose(y, np.clip(ref, -32768, 32767), atol=1.0)  # ... clipped, not wrapped


def test_odd_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        HalfbandDecimator(11025)
