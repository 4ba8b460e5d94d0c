"""EspeakTTS: fast synthesis via ctypes, real word times, streaming and cancel."""

import time

import numpy as np
import pytest

from callcenter.speech import SpeechError
from callcenter.speech.offline.espeak import EspeakOptions, EspeakTTS
from callcenter.speech.offline.piper import PiperOptions, PiperTTS


@pytest.fixture(scope="module")
def tts() -> EspeakTTS:
    engine = EspeakTTS()
    engine.synthesize_clause("warm up")
    return engine


def test_a_sentence_takes_milliseconds_and_sounds_as_long_as_its_words(tts: EspeakTTS) -> None:
    start = time.perf_counter()
    clause = tts.synthesize_clause("Thanks for calling Acme support, how can I help?")
    elapsed = time.perf_counter() - start
    assert elapsed < 0.1
    assert 1.8 < len(clause.samples) / 16000 < 4.5
    assert np.abs(clause.samples).max() > 3000


def test_word_times_come_from_espeak_and_match_the_audio(tts: EspeakTTS) -> None:
    clause = tts.synthesize_clause("one two three, stop")
    assert [w.text for w in clause.words] == ["one", "two", "three", "stop"]
    starts = [w.start_ms for w in clause.words]
    assert starts == sorted(starts) and len(set(starts)) == 4
    # Just before "stop" there is the comma's pause: quieter than inside "three".
    rate = 16000
    three, stop = clause.words[2], clause.words[3]

    def rms(a: float, b: float) -> float:
        seg = clause.samples[int(a * rate / 1000) : int(b * rate / 1000)].astype(np.float64)
        return float(np.sqrt(np.mean(seg**2))) if len(seg) else 0.0

    mid = (three.start_ms + three.end_ms) / 2
    assert rms(stop.start_ms - 60, stop.start_ms) < rms(mid - 60, mid + 60) / 3


async def test_streams_clause_by_clause_and_ends_with_a_final_chunk(tts: EspeakTTS) -> None:
    stream = tts.stream()
    stream.push_text("Your balance is forty dollars. ")
    stream.push_text("Anything else?")
    stream.end_input()
    chunks = [c async for c in stream]
    assert chunks[-1].is_final
    assert [w.text for c in chunks for w in c.words][-2:] == ["Anything", "else"]
    second = next(w for c in chunks for w in c.words if w.text == "Anything")
    assert second.start_ms > 1000  # offset by the first clause's audio


async def test_aclose_stops_the_stream(tts: EspeakTTS) -> None:
    stream = tts.stream()
    stream.push_text("This is a long answer. " * 20)
    stream.end_input()
    n = 0
    async for _ in stream:
        n += 1
        await stream.aclose()
    assert n == 1


def test_unknown_voice_is_a_clear_error() -> None:
    with pytest.raises(SpeechError, match="voice 'xx-nope' not found"):
        EspeakTTS(options=EspeakOptions(voice="xx-nope")).synthesize_clause("hello")


def test_runs_in_the_same_process_as_piper(tts: EspeakTTS) -> None:
    # Piper carries its own eSpeak for phonemes; both must keep working side by side.
    piper = PiperTTS(options=PiperOptions(deterministic=True)).synthesize_clause("Hello there.")
    again = tts.synthesize_clause("Hello there.")
    assert np.abs(piper.samples).max() > 3000 and np.abs(again.samples).max() > 3000
