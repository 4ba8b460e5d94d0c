"""The batched Silero scorer gives every stream exactly what the model gives it alone."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from callcenter.audio.vad import BatchedSileroVAD, VADStream

ort = pytest.importorskip("onnxruntime")


class Recording(VADStream):
    def __init__(self, batcher: BatchedSileroVAD) -> None:
        super().__init__(batcher.sample_rate, scorer=batcher)
        self.probs: list[float] = []

    def on_probability(self, p: float, end_ms: float) -> None:
        self.probs.append(p)
        super().on_probability(p, end_ms)


def _reference(batcher: BatchedSileroVAD, windows: list[np.ndarray]) -> list[float]:
    """One stream alone, one window per model run: the context is the previous window's
    tail (zeros after a window under the energy gate, which is scored 0 unseen)."""
    from callcenter.audio.silero import silero_model_path

    session = ort.InferenceSession(str(silero_model_path()), providers=["CPUExecutionProvider"])
    ctx_len = batcher.context_samples
    ctx = np.zeros(ctx_len, np.float32)
    state = np.zeros((2, 1, 128), np.float32)
    gate = 10.0 ** (-60.0 / 20.0)
    out: list[float] = []
    for w in windows:
        if int(np.abs(w.astype(np.int32)).max()) / 32768.0 < gate:
            out.append(0.0)
            ctx = np.zeros(ctx_len, np.float32)
            continue
        x = np.concatenate([ctx, w.astype(np.float32) / 32768.0])[None, :]
        p, state = session.run(None, {"input": x, "state": state,
                                      "sr": np.array(batcher.sample_rate, np.int64)})
        out.append(float(p[0, 0]))
        ctx = x[0, -ctx_len:]
    return out


def _windows(seed: int, count: int, size: int) -> list[np.ndarray]:
    # Loud noise, line noise and digital silence in runs, a different pattern per stream.
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 3, count // 4 + 1).repeat(4)[:count]
    level = np.array([4000.0, 20.0, 0.0])[kinds]
    return [(rng.standard_normal(size) * lv).astype(np.int16) for lv in level]


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_batched_probabilities_are_each_streams_own(rate: int) -> None:
    batcher = BatchedSileroVAD(rate)
    size = batcher.window_size_samples
    streams = [Recording(batcher) for _ in range(5)]
    windows = [_windows(seed, 60, size) for seed in range(5)]
    for k in range(60):
        for s, ws in zip(streams, windows, strict=True):
            s.push_samples(ws[k], 32.0 * k)
        if k % 7 < 4:  # otherwise a burst: several windows per stream in one trip
            await asyncio.sleep(0)
    for _ in range(200):
        if all(len(s.probs) == 60 for s in streams):
            break
        await asyncio.sleep(0.005)
    assert batcher.batches > batcher.trips  # some trips ran several rounds
    for s, ws in zip(streams, windows, strict=True):
        assert s.probs == pytest.approx(_reference(batcher, ws), abs=1e-5)


async def test_a_slot_handed_on_with_windows_queued_starts_afresh() -> None:
    # A stream closes with windows still queued and a new stream takes its slot before
    # the trip: the newcomer's scores are its own, from a fresh model state, and the
    # closed stream's results are not handed to it.
    batcher = BatchedSileroVAD(8000)
    size = batcher.window_size_samples
    old, keep = Recording(batcher), Recording(batcher)
    rng = np.random.default_rng(7)
    loud = [(rng.standard_normal(size) * 4000).astype(np.int16) for _ in range(3)]
    for k in range(3):
        old.push_samples(loud[k], 32.0 * k)
        keep.push_samples(loud[k], 32.0 * k)
    old.close()
    new = Recording(batcher)
    mine = _windows(8, 6, size)
    for k, w in enumerate(mine):
        new.push_samples(w, 32.0 * k)
    for _ in range(200):
        if len(new.probs) == len(mine) and len(keep.probs) == 3:
            break
        await asyncio.sleep(0.005)
    assert old.probs == []
    assert new.probs == pytest.approx(_reference(batcher, mine), abs=1e-5)
    assert keep.probs == pytest.approx(_reference(batcher, loud[:3]), abs=1e-5)
