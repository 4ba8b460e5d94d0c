"""Constrained Whisper decoding for closed answers, and when it replaces the open reading."""

from __future__ import annotations

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.audio.phone import phone_channel
from callcenter.speech.offline.constrain import (
    DIGIT_WORDS,
    YES_NO_WORDS,
    Constrained,
    ConstrainedChoice,
    allowed_tokens,
    choose,
    constrained_decode,
    suppressed_tokens,
    wants_constrained,
)
from callcenter.speech.stt.expect import Expectation

DIGITS = Expectation(digits=6)
YES_NO = Expectation(yes_no=True)


@pytest.fixture(scope="module")
def tiny() -> object:
    from callcenter.speech.offline.whisper_models import load_whisper

    return load_whisper("tiny.en")


def _piper_phone(text: str, length_scale: float = 1.0) -> np.ndarray:
    """Piper speech through the phone line, padded, as float32 for the model."""
    from callcenter.speech.offline.piper import PiperOptions, PiperTTS

    tts = PiperTTS(16000, PiperOptions(deterministic=True, length_scale=length_scale))
    line = phone_channel(AudioFrame(tts.synthesize_clause(text).samples, 16000),
                         output_rate=16000)
    pad = np.zeros(4000, np.int16)
    return np.concatenate([pad, line.samples, pad]).astype(np.float32) / 32768.0


def test_the_allowed_vocabulary_spells_only_digits_or_yes_no(tiny: object) -> None:
    tok = tiny.hf_tokenizer  # type: ignore[attr-defined]
    for kind, vocab in (("digits", DIGIT_WORDS), ("yes_no", YES_NO_WORDS)):
        pieces = {tok.decode([t]).strip().lower() for t in allowed_tokens(tok, kind)}
        for piece in pieces:
            assert piece in vocab or piece.isdigit() or piece in {"", ".", ",", "-", "!", "?"}, (
                kind, piece)
    digit_pieces = {tok.decode([t]).strip() for t in allowed_tokens(tok, "digits")}
    assert {"8", "85", "eight", "Nine"} <= digit_pieces
    assert {"yes", "No", "yeah"} <= {tok.decode([t]).strip()
                                     for t in allowed_tokens(tok, "yes_no")}
    with pytest.raises(ValueError, match="use one of"):
        allowed_tokens(tok, "dates")


def test_the_suppressed_list_leaves_special_tokens_and_is_built_once(tiny: object) -> None:
    eot = tiny.hf_tokenizer.token_to_id("<|endoftext|>")  # type: ignore[attr-defined]
    first = suppressed_tokens(tiny, "yes_no")
    assert first is suppressed_tokens(tiny, "yes_no")
    assert max(first) < eot and len(first) > eot - 100  # nearly every ordinary token


def test_constrained_decode_reads_digits_and_a_nope_from_phone_audio(tiny: object) -> None:
    digits = constrained_decode(tiny, _piper_phone("eight five three, one zero nine"),
                                "digits", digits=6)
    assert "".join(c for c in digits.text if c.isdigit()) == "853109", digits
    assert -1.0 < digits.avg_logprob <= 0.0
    nope = constrained_decode(tiny, _piper_phone("nope"), "yes_no")
    assert nope.text.lower().startswith("no"), nope
    # Bounded: a forced vocabulary never runs on into "no, no, no, ..." for a sentence.
    sentence = constrained_decode(tiny, _piper_phone("I would like to talk to a person"),
                                  "yes_no")
    assert len(sentence.text.split()) <= 4


def test_a_constrained_reading_is_asked_for_only_where_the_open_one_lacks_the_answer() -> None:
    assert not wants_constrained("853109", DIGITS)
    assert not wants_constrained("uh eight five three", Expectation(digits=3))
    # Digits, but fewer than the answer has: a dropped digit, or one group of a number.
    assert wants_constrained("4.8.2.1.3.", DIGITS)
    assert wants_constrained("uh eight five three", DIGITS)
    assert not wants_constrained("4.8.2.1.3.", Expectation(digits=5))
    assert wants_constrained("I'm Brie Woznero", DIGITS)
    assert wants_constrained("", DIGITS)
    assert not wants_constrained("Yeah, that's right.", YES_NO)
    assert wants_constrained("Nobe.", YES_NO)
    assert not wants_constrained("I'm Brie Woznero", None)
    assert not wants_constrained("anything", Expectation(phrases=("billing",)))


@pytest.mark.parametrize(("heard", "logprob", "cons", "expect", "want"), [
    # tiny.en misheard digits; the digits-only reading fits: it wins.
    ("I'm Brie Woznero.", -1.0, Constrained("8-5-3-1-0-9", -0.35, 0.0), DIGITS, "8-5-3-1-0-9"),
    # ...but not when it fits the audio badly,
    ("I'm Brie Woznero.", -1.0, Constrained("8-5-3", -1.4, 0.0), DIGITS, "I'm Brie Woznero."),
    # nor when it is a loop, nor when it has no more digits than the open reading.
    ("I'm Brie.", -1.0, Constrained("Oh, oh, oh, oh, oh", -0.3, 0.0), DIGITS, "I'm Brie."),
    ("It's 85.", -1.0, Constrained("85", -0.3, 0.0), DIGITS, "It's 85."),
    # A sentence Whisper is sure of is what the caller said (a person asked for).
    ("I want to talk to a person.", -0.3, Constrained("1, 2, 4, 7", -0.6, 0.0), DIGITS,
     "I want to talk to a person."),
    ("Nobe.", -0.9, Constrained("No.", -0.2, 0.0), YES_NO, "No."),
    ("You ain't.", -0.8, Constrained("Yes, no", -0.4, 0.0), YES_NO, "Yes."),
    ("Hmm.", -0.8, Constrained("", -0.4, 0.0), YES_NO, "Hmm."),
    ("Hmm.", -0.8, Constrained("No.", -0.2, 0.0), None, "Hmm."),
])
def test_the_constrained_reading_wins_only_where_it_fits_and_answers(
        heard: str, logprob: float, cons: Constrained, expect: Expectation | None,
        want: str) -> None:
    assert choose(heard, logprob, cons, expect) == want


def test_the_choice_thresholds_are_options() -> None:
    strict = ConstrainedChoice(min_logprob=-0.1)
    assert choose("Nobe.", -0.9, Constrained("No.", -0.2, 0.0), YES_NO, strict) == "Nobe."


def test_digits_the_parser_reads_in_whisper_spellings_count_for_the_open_reading() -> None:
    # "4.8 to 9.1 free." is 482913 to the digit parser: a shorter constrained reading loses.
    cons = Constrained("4, 8, 2, 9, 1", -0.2, 0.0)
    assert choose("4.8 to 9.1 free.", -0.9, cons, DIGITS) == "4.8 to 9.1 free."


@pytest.mark.parametrize(("heard", "cons", "want"), [
    # Whisper dropped a digit and is sure of it: the whole constrained answer still wins
    # (digits are no sentence, however many there are).
    ("4.8.2.1.3.", Constrained("4, 8, 2, 9, 1, 3", -0.3, 0.0), "4, 8, 2, 9, 1, 3"),
    # One group of a number said in groups: a digit added to it is no answer.
    ("4, 8, 2.", Constrained("4, 8, 2, 2", -0.3, 0.0), "4, 8, 2."),
    ("4.8.2.1.3.", Constrained("4, 8, 2, 1, 3", -0.2, 0.0), "4.8.2.1.3."),
    # The whole answer from a reading that fits badly loses all the same.
    ("4.8.2.1.3.", Constrained("4, 8, 2, 9, 1, 3", -1.2, 0.0), "4.8.2.1.3."),
])
def test_a_short_digit_reading_is_replaced_only_by_a_whole_answer(
        heard: str, cons: Constrained, want: str) -> None:
    assert choose(heard, -0.2, cons, DIGITS) == want
