"""A missed number heard again at exactly the asked length (`offline.exact_digits`)."""

from __future__ import annotations

import numpy as np
import pytest
from offline_speech_audio import piper_phone

from callcenter.speech.offline.exact_digits import (
    ExactDigitsRule,
    digit_string,
    exact_digits_decode,
    periodic,
)
from callcenter.speech.offline.whisper import WhisperOptions, WhisperSTT
from callcenter.speech.stt.expect import Expectation


@pytest.fixture(scope="module")
def tiny() -> object:
    from callcenter.speech.offline.whisper_models import load_whisper

    return load_whisper("tiny.en")


@pytest.mark.parametrize(("text", "digits"), [
    ("Nine four, seven, double six, one.", "947661"),
    ("three triple five two one.", "355521"),
    ("1, 5, 38, 8, 4", "153884"),
    ("9.00412", "900412"),
    ("One, eight, three, three, nine oh", "183390"),
    ("4-8-2-913", "482913"),
    ("no digits here", ""),
])
def test_digit_string_reads_what_a_constrained_reading_spells(text: str, digits: str) -> None:
    assert digit_string(text) == digits


@pytest.mark.parametrize(("digits", "want"), [
    ("000000", True), ("121212", True), ("510510", True), ("101010", True),
    ("153884", False), ("100234", False), ("7", False), ("", False),
])
def test_a_forced_reading_of_no_number_repeats_one_short_unit(digits: str, want: bool) -> None:
    assert periodic(digits) is want


def test_a_number_said_is_read_at_its_length(tiny: object) -> None:
    audio = piper_phone("one five three, eight eight four.").astype(np.float32) / 32768.0
    read = exact_digits_decode(tiny, audio, 6)
    assert read is not None and digit_string(read.text) == "153884"
    assert read.avg_logprob >= ExactDigitsRule().min_logprob


def test_speech_that_holds_no_number_gives_no_reading(tiny: object) -> None:
    audio = piper_phone("What's the weather like in Paris today?").astype(np.float32) / 32768.0
    assert exact_digits_decode(tiny, audio, 6) is None


def test_a_reading_that_fits_too_badly_is_not_taken(tiny: object) -> None:
    audio = piper_phone("one five three, eight eight four.").astype(np.float32) / 32768.0
    assert exact_digits_decode(tiny, audio, 6, ExactDigitsRule(min_logprob=0.0)) is None


def test_a_whole_turn_of_the_wrong_length_gets_the_agreed_reading_as_an_alternative() -> None:
    # tiny.en reads this Piper line as "5388810" (seven digits): the flow would ask again.
    samples = piper_phone("five three eight eight one zero.")
    expect = Expectation(digits=6)
    whole = WhisperSTT(WhisperOptions(model="tiny.en",
                                      exact_digits_models=("tiny.en", "base")))
    heard = whole.transcribe(samples, 0.0, expect=expect)
    assert len(digit_string(heard.text)) != 6  # the reading itself is kept, tried first
    assert [digit_string(a) for a in heard.alternatives] == ["538810"]


def test_a_segment_is_never_forced_to_the_length() -> None:
    # A segment may be one group of a number said in groups ("one five three | ..."): the
    # first tier reads it as it is and offers nothing else.
    first = WhisperSTT(WhisperOptions(model="tiny.en"))
    heard = first.transcribe(piper_phone("one five three."), 0.0,
                             expect=Expectation(digits=6))
    assert digit_string(heard.text) == "153" and heard.alternatives == ()


def test_a_reading_of_the_right_length_gets_no_alternative() -> None:
    whole = WhisperSTT(WhisperOptions(model="tiny.en",
                                      exact_digits_models=("tiny.en", "base")))
    heard = whole.transcribe(piper_phone("one five three eight eight four."), 0.0,
                             expect=Expectation(digits=6))
    assert digit_string(heard.text) == "153884" and heard.alternatives == ()


def test_a_sure_sentence_is_not_forced_into_a_number() -> None:
    stt = WhisperSTT(WhisperOptions(model="tiny.en", exact_digits_models=("tiny.en",)))
    assert stt._sure_sentence("I don't have my order number with me", 0.8)
    assert not stt._sure_sentence("I don't have my order number with me", 0.3)
    assert not stt._sure_sentence("1, 5, 3, 8, 4", 0.9)


def test_the_second_tier_reads_numbers_at_length_the_first_does_not() -> None:
    from callcenter.speech.offline.whisper_tiers import TieredWhisperSTT

    stt = TieredWhisperSTT(WhisperOptions(model="tiny.en"), second_model="base")
    assert stt.options.exact_digits_models == ()
    assert stt.second.options.exact_digits_models == ("tiny.en", "base")
