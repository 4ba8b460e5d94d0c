"""PiperTTS: clause streaming, alignment, determinism, cancel."""

import itertools
import time

import numpy as np
import pytest

from callcenter.speech import SpeechError, TTSAudio
from callcenter.speech.offline.piper import PiperOptions, PiperTTS

LONG = (
    "Thanks for calling Acme support. I can check an order, change an address, "
    "or help with a bill. What would you like to do today?"
)


@pytest.fixture(scope="module")
def tts() -> PiperTTS:
    engine = PiperTTS(options=PiperOptions(deterministic=True))
    engine.warm_up()
    return engine


async def _collect(tts: PiperTTS, *pieces: str) -> tuple[list[TTSAudio], float, float]:
    stream = tts.stream()
    start = time.perf_counter()
    for p in pieces:
        stream.push_text(p)
    stream.end_input()
    out, first = [], 0.0
    async for chunk in stream:
        if not out:
            first = time.perf_counter() - start
        out.append(chunk)
    return out, first, time.perf_counter() - start


async def test_first_audio_comes_before_the_whole_reply_is_synthesized(tts: PiperTTS) -> None:
    chunks, first, total = await _collect(tts, LONG)
    assert first < total / 2
    assert chunks[-1].is_final and len(chunks[-1].frame.samples) == 0
    audio = [c.frame for c in chunks]
    assert all(f.sample_rate == 16000 for f in audio)
    for a, b in itertools.pairwise(audio):  # contiguous utterance time
        assert b.timestamp_ms == pytest.approx(a.end_ms)
    # Speech at ~2-3 words/s: the length follows the text.
    assert 6_000 < audio[-1].timestamp_ms < 14_000


async def test_word_alignment_covers_every_word_in_order_within_the_audio(tts: PiperTTS) -> None:
    chunks, _, _ = await _collect(tts, LONG)
    aligned = [w for c in chunks for w in c.words]
    assert [w.text for w in aligned] == LONG.split()
    starts = [w.start_ms for w in aligned]
    assert starts == sorted(starts)
    assert all(w.end_ms > w.start_ms for w in aligned)
    assert aligned[-1].end_ms <= chunks[-1].frame.timestamp_ms
    # Second clause starts after the first clause's audio.
    assert aligned[5].start_ms > 1000


async def test_text_pushed_token_by_token_speaks_the_same_words(tts: PiperTTS) -> None:
    tokens = ["Sure", ", I", " can", " help", ". One", " moment", " please"]
    chunks, _, _ = await _collect(tts, *tokens)
    assert [w.text for c in chunks for w in c.words] == [
        "Sure,",
        "I",
        "can",
        "help.",
        "One",
        "moment",
        "please",
    ]


def test_deterministic_option_is_byte_repeatable_at_the_native_rate() -> None:
    native = PiperTTS(22050, PiperOptions(deterministic=True))
    a = native.synthesize_clause("Your order shipped yesterday.").samples
    b = native.synthesize_clause("Your order shipped yesterday.").samples
    assert np.array_equal(a, b) and np.abs(a).max() > 3000


def test_deterministic_option_repeats_within_resampler_rounding(tts: PiperTTS) -> None:
    # livekit's resampler is not bit-exact between runs (a least-significant bit or two).
    a = tts.synthesize_clause("Your order shipped yesterday.").samples.astype(np.int32)
    b = tts.synthesize_clause("Your order shipped yesterday.").samples.astype(np.int32)
    assert len(a) == len(b) and np.abs(a - b).max() <= 4


def test_output_follows_the_configured_sample_rate(tts: PiperTTS) -> None:
    narrow = PiperTTS(8000, PiperOptions(deterministic=True)).synthesize_clause("One moment.")
    wide = tts.synthesize_clause("One moment.")
    assert len(wide.samples) == pytest.approx(2 * len(narrow.samples), rel=0.01)


async def test_aclose_cancels_and_drops_queued_audio(tts: PiperTTS) -> None:
    stream = tts.stream()
    stream.push_text(LONG * 3)
    stream.end_input()
    received = 0
    async for chunk in stream:
        received += len(chunk.frame.samples)
        await stream.aclose()
    # Stopped after the first chunk: far less than the ~25 s the text would take.
    assert received <= 16000 * 0.2
    with pytest.raises(RuntimeError, match="after end_input/aclose"):
        stream.push_text("more")


def test_unknown_voice_is_refused_with_the_available_one(tts: PiperTTS) -> None:
    with pytest.raises(SpeechError, match="'joe'"):
        tts.stream(voice="amy")
