"""CachingTTS: static prompts replay at once and byte-identical; nothing else is cached."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from callcenter.callsession.static_prompts import static_prompts
from callcenter.flow.validate import load_flow
from callcenter.speech import TTSAudio
from callcenter.speech.tts.base import TTS
from callcenter.speech.tts.cache import AudioCache, CachedAudio, CachingTTS
from callcenter.testing.fakes import FakeTTS

PROMPT = "For billing, press 2. For anything else, stay on the line."


async def _speak(tts: TTS, text: str, *, streamed: bool = False) -> tuple[list[TTSAudio], float]:
    stream = tts.stream()
    start = time.perf_counter()
    stream.push_text(text)
    if streamed:
        stream.flush()  # how an LLM reply arrives: the text is not known whole
    stream.end_input()
    out: list[TTSAudio] = []
    first = 0.0
    async for chunk in stream:
        if not out:
            first = time.perf_counter() - start
        out.append(chunk)
    await stream.aclose()
    return out, first


def _pcm(chunks: list[TTSAudio]) -> bytes:
    return b"".join(c.frame.samples.tobytes() for c in chunks)


async def test_a_warmed_static_prompt_replays_at_once_with_the_same_audio() -> None:
    inner = FakeTTS(ttfb=0.2)
    tts = CachingTTS(inner)
    assert await tts.warm([PROMPT]) == 1
    fresh, slow = await _speak(inner, PROMPT)
    cached, fast = await _speak(tts, PROMPT)
    assert slow >= 0.2 and fast < 0.02
    assert _pcm(cached) == _pcm(fresh)
    assert [w.text for c in cached for w in c.words] == PROMPT.split()
    assert tts.cache.hits == 1


async def test_text_never_admitted_is_never_cached() -> None:
    tts = CachingTTS(FakeTTS())
    tts.admit([PROMPT])
    await _speak(tts, "Your balance is 42 dollars.")  # slot-filled: rendered per caller
    await _speak(tts, PROMPT, streamed=True)  # an LLM stream that happens to match
    assert len(tts.cache) == 0
    await _speak(tts, PROMPT)
    assert len(tts.cache) == 1


async def test_a_cancelled_synthesis_is_not_recorded() -> None:
    tts = CachingTTS(FakeTTS())
    tts.admit([PROMPT])
    stream = tts.stream()
    stream.push_text(PROMPT)
    stream.end_input()
    async for _ in stream:
        break  # barge-in after the first chunk
    await stream.aclose()
    assert len(tts.cache) == 0


async def test_memory_is_bounded_by_bytes_least_recently_used_first() -> None:
    inner = FakeTTS()
    one, _ = await _speak(inner, "One two three.")
    size = CachedAudio(tuple(one)).nbytes
    cache = AudioCache(max_bytes=int(size * 2.5))
    tts = CachingTTS(inner, cache)
    await tts.warm(["One two three.", "Four six eight.", "Nine ten zip."])
    assert len(cache) == 2 and cache.nbytes <= cache.max_bytes
    assert cache.get(tts.key("One two three.")) is None  # the oldest went first


async def test_disk_cache_survives_a_restart(tmp_path: Path) -> None:
    first = CachingTTS(FakeTTS(), AudioCache(directory=tmp_path))
    await first.warm([PROMPT])
    assert list(tmp_path.glob("*.npz"))
    again = CachingTTS(FakeTTS(ttfb=0.5), AudioCache(directory=tmp_path))
    assert await again.warm([PROMPT]) == 0  # read from disk, nothing synthesized
    cached, fast = await _speak(again, PROMPT)
    fresh, _ = await _speak(FakeTTS(), PROMPT)
    assert fast < 0.02 and _pcm(cached) == _pcm(fresh)


FLOW = """
name: cache_demo
start: start
nodes:
  start:
    type: say
    text: "Thanks for calling. Calls cost $5."
    next: who
  who:
    type: ask
    slot: order
    prompt: "What is your order number?"
    no_match: "Sorry {{order}}, say it again?"
    next: done
  done:
    type: hangup
    say: "Goodbye {{order}}."
"""


def test_only_prompts_without_slots_are_static() -> None:
    texts = static_prompts(load_flow(FLOW, "cache_demo.yaml"))
    assert "Thanks for calling. Calls cost 5 dollars." in texts  # rendered as spoken
    assert "What is your order number?" in texts
    assert not [t for t in texts if "{{" in t or "Goodbye" in t or "again" in t]


async def test_cached_piper_audio_is_byte_identical_to_fresh() -> None:
    pytest.importorskip("piper")
    from callcenter.speech.offline.piper import PiperOptions, PiperTTS

    # At Piper's native rate: with noise off that is byte-repeatable (resampled output can
    # differ in a least-significant bit between runs, so "fresh" would not be a fixed point).
    piper = PiperTTS(sample_rate=22050, options=PiperOptions(deterministic=True))
    piper.warm_up()
    tts = CachingTTS(piper)
    await tts.warm([PROMPT])
    fresh, _ = await _speak(piper, PROMPT)
    cached, fast = await _speak(tts, PROMPT)
    assert fast < 0.02
    assert _pcm(cached) == _pcm(fresh)
    assert np.array_equal(np.concatenate([c.frame.samples for c in cached]),
                          np.concatenate([c.frame.samples for c in fresh]))
    await piper.aclose()


async def test_a_static_prompt_is_out_within_20_ms_through_the_speech_path() -> None:
    from callcenter.bench.prompts import first_audio_ms

    inner = FakeTTS(ttfb=0.15)
    tts = CachingTTS(inner)
    await tts.warm([PROMPT])
    assert await first_audio_ms(inner, PROMPT) >= 150
    assert await first_audio_ms(tts, PROMPT) <= 20
