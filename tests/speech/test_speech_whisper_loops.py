"""Readings that loop or hold more than their audio can: seen, and decoded again in Whisper's
full window (the short encoder window loops on short groups of digits)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.audio.phone import phone_channel
from callcenter.speech.offline import whisper, whisper_window
from callcenter.speech.offline.whisper import WhisperOptions, WhisperSTT, speech_seconds
from callcenter.speech.stt.expect import collapse_loops, is_loop, spoken_counts, too_dense

RATE = 16000


@pytest.mark.parametrize(("text", "loop"), [
    ("1, 6, 6, 1, 6, 6, 1, 6, 6, 1", True),    # "one six six" in the short window
    ("3 1 4 3 1 4 3 1 4", True),               # "three one four"
    ("I want to, I want to, I want to talk", True),
    ("Yes, it is. Yes, it is.", False),        # twice is something a caller says
    ("no no no", False),                       # a word three times too
    ("4 8 2 9 1 3", False),
    ("The order number is 528 166.", False),
])
def test_a_phrase_of_two_words_three_times_over_is_a_loop(text: str, loop: bool) -> None:
    assert is_loop(text) is loop


def test_a_loop_of_a_phrase_is_said_once() -> None:
    assert collapse_loops("3 1 4 3 1 4 3 1 4") == "3 1 4"
    assert collapse_loops("No. No. No. No.") == "No."


def test_every_digit_of_a_numeral_is_a_word_to_say() -> None:
    assert spoken_counts("777 7") == (4, 4)
    assert spoken_counts("It's five 28.") == (3, 4)
    assert spoken_counts("") == (0, 0)


@pytest.mark.parametrize(("text", "seconds", "dense"), [
    ("777 7", 0.92, True),                     # "seven seven seven": one digit too many
    ("777", 0.92, False),
    ("618 618 618 618 618 618 618 618 618", 1.0, True),
    ("4, 8, 2, 9, 1, 3", 2.2, False),           # a number at ~3 digits a second
    ("Okay. Okay. Okay. Okay. Okay. Okay. Okay.", 0.4, True),
    ("I want a person.", 0.72, False),          # four words in 0.72 s: one of slack
    ("I want to talk to a real person please.", 1.0, True),
    ("", 0.0, False),
])
def test_a_reading_with_more_than_its_speech_can_hold_is_too_dense(
        text: str, seconds: float, dense: bool) -> None:
    assert too_dense(text, seconds) is dense


def _burst(before_s: float, speech_s: float, after_s: float, floor: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    n = int(RATE * (before_s + speech_s + after_s))
    x = rng.normal(0.0, floor, n)
    lo, hi = int(RATE * before_s), int(RATE * (before_s + speech_s))
    x[lo:hi] += 6000.0 * np.sin(np.arange(hi - lo) * 2 * np.pi * 300 / RATE)
    return np.clip(x, -32768, 32767).astype(np.int16)


def test_speech_length_leaves_out_the_silent_pre_roll_and_tail() -> None:
    assert speech_seconds(_burst(0.3, 0.9, 0.5), RATE) == pytest.approx(0.9, abs=0.04)
    # Noise 30 dB under the speech is no speech; the clip's length is not its speech.
    assert speech_seconds(_burst(0.3, 0.9, 0.5, floor=100.0), RATE) == pytest.approx(
        0.9, abs=0.04)
    # Silence only (nothing louder than anything): the whole clip is all there is to go by.
    assert speech_seconds(np.zeros(RATE, np.int16), RATE) == 1.0
    assert speech_seconds(np.zeros(10, np.int16), RATE) == pytest.approx(10 / RATE)


class _WindowModel:
    """tiny.en as the short window makes it: one reading there, another in the full window."""

    def __init__(self, short: str, full: str) -> None:
        self.short, self.full = short, full
        self.windows: list[str] = []

    def transcribe(self, audio: object, **kw: object) -> tuple[list[object], None]:
        full = getattr(whisper_window._state, "full", False)
        self.windows.append("full" if full else "short")
        text = self.full if full else self.short
        return [SimpleNamespace(text=text, avg_logprob=-0.2, words=[])], None


@pytest.mark.parametrize(("short", "full", "want", "windows"), [
    # Too many digits for 0.9 s of speech: the full window's reading.
    (" 777 7", " 777", "777", ["short", "full"]),
    (" 1, 6, 6, 1, 6, 6, 1, 6, 6, 1", " 1, 6, 6.", "1, 6, 6.", ["short", "full"]),
    # A reading that fits its audio is not decoded again.
    (" 777", " 7777", "777", ["short"]),
    # Both too dense: the one with less in it (unprompted, a repeat in it stays).
    (" 7, 7, 7, 7, 7", " 7, 7, 7, 7", "7, 7, 7, 7", ["short", "full"]),
    (" 3 1 4 3 1 4 3 1 4", " 3 1 4 3 1 4 3 1 4 3 1 4", "3 1 4 3 1 4 3 1 4", ["short", "full"]),
])
def test_a_reading_too_dense_for_its_audio_is_decoded_again_in_the_full_window(
        monkeypatch: pytest.MonkeyPatch, short: str, full: str, want: str,
        windows: list[str]) -> None:
    model = _WindowModel(short, full)
    monkeypatch.setattr(whisper, "load_whisper_model", lambda name="tiny.en": model)
    stt = WhisperSTT(WhisperOptions(second_opinion=False, constrained=False))
    got = stt.transcribe(_burst(0.3, 0.9, 0.5), 0.0)
    assert got.text == want
    assert model.windows == windows


def test_an_unprompted_repeat_that_fits_its_audio_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    # "one one one one" in two seconds can be an order number's start: not cut to "1".
    model = _WindowModel(" 1 1 1 1", " 1 1 1 1")
    monkeypatch.setattr(whisper, "load_whisper_model", lambda name="tiny.en": model)
    stt = WhisperSTT(WhisperOptions(second_opinion=False, constrained=False))
    assert stt.transcribe(_burst(0.3, 2.0, 0.5), 0.0).text == "1 1 1 1"
    assert model.windows == ["short", "full"]


def _piper_phone(text: str, length_scale: float) -> np.ndarray:
    from callcenter.speech.offline.piper import PiperOptions, PiperTTS

    tts = PiperTTS(RATE, PiperOptions(deterministic=True, length_scale=length_scale))
    line = phone_channel(AudioFrame(tts.synthesize_clause(text).samples, RATE),
                         output_rate=RATE)
    pad = np.zeros(int(0.3 * RATE), np.int16)
    return np.concatenate([pad, line.samples, pad])


@pytest.mark.parametrize(("text", "digits"), [("one six six", "166"), ("six one eight", "618")])
def test_a_short_digit_group_the_short_window_loops_on_is_read_right(
        text: str, digits: str) -> None:
    # A fast Piper voice (as the bench's piper-fast) with 300 ms of silence either side:
    # the short window reads "1, 6, 6, 1, 6, 6, 1, 6, 6, 1, 6" / "618 618 618 ...".
    samples = _piper_phone(text, 0.85)
    stt = WhisperSTT()
    audio = samples.astype(np.float32) / 32768.0
    looped = stt._decode(audio, 0.0, None, None)[0]
    assert is_loop(looped) or too_dense(looped, speech_seconds(samples, RATE)), looped
    heard = stt.transcribe(samples, 0.0).text
    assert "".join(c for c in heard if c.isdigit()) == digits, heard
