"""Silero VAD stream: speech start/end events with media timestamps, both scorers."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.audio.vad import (
    BatchedSileroVAD,
    VADEvent,
    VADEventKind,
    VADSettings,
    VADStream,
)

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def _speech(text: str, rate: int) -> np.ndarray:
    raw = subprocess.run(
        ["espeak-ng", "--stdout", text], check=True, capture_output=True
    ).stdout
    # espeak-ng writes a 22050 Hz WAV; the 44-byte header is standard.
    pcm = np.frombuffer(raw[44:], dtype="<i2").astype(np.float32)
    idx = np.arange(0, len(pcm), 22050 / rate)
    out = np.interp(idx, np.arange(len(pcm)), pcm)
    return np.asarray(out, dtype=np.int16)


def _frames(samples: np.ndarray, rate: int, start_ms: float = 0.0) -> list[AudioFrame]:
    n = rate // 50
    return [
        AudioFrame(samples[i : i + n], rate, start_ms + 1000.0 * i / rate)
        for i in range(0, len(samples) - n + 1, n)
    ]


@pytest.mark.parametrize("rate", [8000, 16000])
def test_vad_reports_speech_start_and_end_at_media_times(rate: int) -> None:
    speech = _speech("Hello, I would like to check the status of my order please.", rate)
    lead, tail = np.zeros(rate, np.int16), np.zeros(rate, np.int16)
    audio = np.concatenate([lead, speech, tail])
    vad = VADStream(rate, VADSettings(min_silence_ms=300))
    for f in _frames(audio, rate):
        vad.push_frame(f)
    events = vad.events()
    kinds = [e.kind for e in events]
    assert kinds[0] is VADEventKind.SPEECH_START
    assert kinds[-1] is VADEventKind.SPEECH_END
    voiced = np.nonzero(np.abs(speech) > 300)[0]
    true_start = 1000.0 + 1000.0 * voiced[0] / rate
    true_end = 1000.0 + 1000.0 * voiced[-1] / rate
    assert abs(events[0].timestamp_ms - true_start) < 100
    assert abs(events[-1].timestamp_ms - true_end) < 200
    assert events[-1].detected_ms - events[-1].timestamp_ms >= 300
    assert events[0].padded_start_ms == pytest.approx(events[0].timestamp_ms - 300)


def test_vad_skips_the_model_on_digital_silence() -> None:
    vad = VADStream(8000)
    for f in _frames(np.zeros(8000 * 2, np.int16), 8000):
        vad.push_frame(f)
    assert vad.windows_scored == 0
    assert vad.windows_gated > 50
    assert vad.events() == []


def test_vad_rejects_unsupported_rates_and_bad_settings() -> None:
    with pytest.raises(ValueError, match="8000 or 16000"):
        VADStream(44100)
    with pytest.raises(ValueError, match="activation_threshold"):
        VADSettings(activation_threshold=1.5)
    vad = VADStream(8000)
    with pytest.raises(ValueError, match="16000 Hz frame"):
        vad.push_frame(AudioFrame.silence(20, 16000))


async def test_batched_scorer_matches_per_stream_scorer() -> None:
    pytest.importorskip("onnxruntime")
    rate = 8000
    speech = _speech("one two three four", rate)
    noise = (np.random.default_rng(1).normal(0, 30, rate)).astype(np.int16)
    audio = np.concatenate([noise, speech, noise])
    lite_events: list[VADEvent] = []
    lite = VADStream(rate, on_event=lite_events.append)
    batcher = BatchedSileroVAD(rate)
    batched: list[list[VADEvent]] = [[] for _ in range(5)]
    streams = [
        VADStream(rate, scorer=batcher, on_event=batched[i].append) for i in range(5)
    ]
    for f in _frames(audio, rate):
        lite.push_frame(f)
        for s in streams:
            s.push_frame(f)
        await asyncio.sleep(0)
    for _ in range(50):
        await asyncio.sleep(0.001)
    assert lite_events, "speech must be detected"
    for evs in batched:
        assert [(e.kind, e.timestamp_ms) for e in evs] == [
            (e.kind, e.timestamp_ms) for e in lite_events
        ]
    assert batcher.batches < batcher.windows  # windows really were batched


async def test_batched_scorer_catches_up_a_late_burst_in_one_trip() -> None:
    # After a stall, a second of audio arrives at once: the windows queued behind each
    # other are scored in one trip to the worker thread (in order per stream), not one
    # window per trip while new audio keeps coming (the VAD fell seconds behind the call,
    # and the STT was sent audio after the words).
    pytest.importorskip("onnxruntime")
    rate = 8000
    speech = _speech("one two three four", rate)
    noise = (np.random.default_rng(2).normal(0, 30, rate // 2)).astype(np.int16)
    audio = np.concatenate([noise, speech, noise])
    lite_events: list[VADEvent] = []
    lite = VADStream(rate, on_event=lite_events.append)
    batcher = BatchedSileroVAD(rate)
    got: list[list[VADEvent]] = [[] for _ in range(3)]
    streams = [VADStream(rate, scorer=batcher, on_event=got[i].append) for i in range(3)]
    frames = _frames(audio, rate)
    for f in frames:  # the burst: no await between frames
        lite.push_frame(f)
        for s in streams:
            s.push_frame(f)
    for _ in range(200):
        await asyncio.sleep(0.005)
        if all(s.heard_ms == lite.heard_ms for s in streams):
            break
    assert lite_events, "speech must be detected"
    assert batcher.trips == 1
    for s, evs in zip(streams, got, strict=True):
        assert s.heard_ms == lite.heard_ms
        assert [(e.kind, e.timestamp_ms) for e in evs] == [
            (e.kind, e.timestamp_ms) for e in lite_events
        ]
