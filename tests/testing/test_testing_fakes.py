"""Fake providers: TTS audio follows the text with word times; STT reads the speech board."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.clock import VirtualClock
from callcenter.speech import TranscriptKind
from callcenter.testing import fakes
from callcenter.testing.fakes import FakeLLM, FakeSTT, FakeTTS, SpeechBoard


async def test_fake_tts_audio_length_follows_text_and_words_are_aligned() -> None:
    clock = VirtualClock()
    tts = FakeTTS(clock=clock, sample_rate=8000, ttfb=0.2, ms_per_char=50, word_gap_ms=50)
    stream = tts.stream()
    stream.push_text("hello big world")
    stream.end_input()
    chunks = [c async for c in stream]
    samples = sum(len(c.frame.samples) for c in chunks)
    assert samples == 8000 * (15 - 2 + 3 * 1) * 50 // 1000  # 13 letters + 3 gaps
    words = [w for c in chunks for w in c.words]
    assert [w.text for w in words] == ["hello", "big", "world"]
    assert words[1].start_ms == 300 and words[1].end_ms == 450
    assert clock.now() == 0.2  # time to first byte on the shared clock
    await clock.aclose()


async def test_fake_stt_transcribes_what_the_board_says_was_spoken_in_its_audio() -> None:
    board = SpeechBoard()
    board.said("caller", "four eight two", 100.0, 1000.0)
    board.said("caller", "not in this segment", 5000.0, 6000.0)
    stt = FakeSTT(board, clock=VirtualClock(), sample_rate=8000)
    s = stt.stream()
    for ts in range(0, 1100, 20):
        s.push_frame(AudioFrame(np.zeros(160, np.int16), 8000, float(ts)))
    s.end_of_speech()
    got = []
    async for t in s:
        got.append(t)
        if t.kind is TranscriptKind.FINAL:
            break
    assert [t.text for t in got if t.kind is TranscriptKind.INTERIM] == [
        "four", "four eight", "four eight two",
    ]
    assert got[-1].text == "four eight two"
    await s.aclose()


def _voiced(rate: int, ts: float, seconds: float, seed: int) -> AudioFrame:
    # Speech-like audio whose loudness wanders (per 20 ms) in a pattern of its own per seed.
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    level = np.repeat(rng.uniform(200, 8000, n // (rate // 50) + 1), rate // 50)[:n]
    return AudioFrame((rng.standard_normal(n) * level).astype(np.int16), rate, ts)


async def test_fake_stt_overlapping_speakers_hears_the_one_its_audio_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rate = 8000
    caller, supervisor = _voiced(rate, 0.0, 1.2, seed=1), _voiced(rate, 0.0, 1.2, seed=2)
    board = SpeechBoard()
    board.said("caller", "my parcel never arrived", 0.0, 1200.0, audio=caller)
    board.said("sup", "hello this is ada", 0.0, 1200.0, audio=supervisor)
    measured: list[int] = []
    real_rms = fakes._rms
    monkeypatch.setattr(fakes, "_rms", lambda s: measured.append(len(s)) or real_rms(s))
    s = FakeSTT(board, clock=VirtualClock(), sample_rate=rate).stream()
    n = rate // 50
    for i in range(0, len(supervisor.samples), n):  # this stream carries the supervisor
        s.push_frame(AudioFrame(supervisor.samples[i : i + n], rate, 1000.0 * i / rate))
    s.end_of_speech()
    got = []
    async for t in s:
        got.append(t)
        if t.kind is TranscriptKind.FINAL:
            break
    assert got[-1].text == "hello this is ada"
    assert all("parcel" not in t.text for t in got)
    # Each of the 60 frames pushed is measured once however often the speakers are compared
    # (it was every kept frame on every push: quadratic in an escalated call).
    assert len(measured) == 60
    await s.aclose()


async def test_fake_llm_streams_and_counts_cancellation() -> None:
    clock = VirtualClock()
    llm = FakeLLM(["first reply here", "second"], clock=clock, ttft=0.3, token_interval=0.1)
    out = [c.text async for c in llm.chat([])]
    assert "".join(out) == "first reply here" and clock.now() == 0.5
    it = llm.chat([])
    assert isinstance(it, AsyncGenerator)
    assert (await it.__anext__()).text == "second"
    await it.aclose()
    assert llm.cancelled == 1
    await clock.aclose()
