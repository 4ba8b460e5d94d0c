"""Constrained Whisper decoding for closed answers, and when it replaces the open reading."""

from __future__ import annotations

import numpy as np
import pytest
from offline_speech_audio import espeak_phone, needs_espeak_cli, piper_phone, with_silence

from callcenter.speech.offline.constrain import (
    DIGIT_WORDS,
    YES_NO_WORDS,
    Constrained,
    ConstrainedChoice,
    allowed_tokens,
    choose,
    closed_kind,
    constrained_decode,
    menu_answer,
    menu_vocabulary,
    suppressed_tokens,
    syllables,
    wants_constrained,
)
from callcenter.speech.stt.expect import Expectation

DIGITS = Expectation(digits=6)
YES_NO = Expectation(yes_no=True)
# The quality bench's menu: its options' phrases, as the menu node's Listen hints them.
PHRASES = ("order", "order status", "where is my order", "package", "delivery", "tracking",
           "billing", "bill", "invoice", "charge", "payment", "refund", "address",
           "change my address", "new address", "moving", "cancel", "cancel my subscription",
           "close my account")
MENU = Expectation(phrases=PHRASES)


@pytest.fixture(scope="module")
def tiny() -> object:
    from callcenter.speech.offline.whisper_models import load_whisper

    return load_whisper("tiny.en")


def _piper_phone(text: str, length_scale: float = 1.0) -> np.ndarray:
    """Piper speech through the phone line, padded, as float32 for the model."""
    return piper_phone(text, length_scale).astype(np.float32) / 32768.0


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


def test_a_menu_gets_the_constrained_decode_only_where_its_reading_names_nothing() -> None:
    assert closed_kind(MENU) == "menu"
    assert closed_kind(Expectation(yes_no=True, phrases=PHRASES)) == "yes_no"
    assert wants_constrained("will in clean", MENU)           # "billing please"
    assert wants_constrained("Please can feel my cold", MENU)  # "my" names no option
    assert wants_constrained("What's the weather like?", MENU)
    assert wants_constrained("", MENU)
    assert not wants_constrained("Billing clean.", MENU)
    assert not wants_constrained("I want to talk to someone", MENU)  # a person asked for
    assert not wants_constrained("Get me a manager.", MENU)


def test_a_menus_vocabulary_is_its_words_a_persons_and_a_few_fillers(tiny: object) -> None:
    vocab = menu_vocabulary(PHRASES)
    assert {"billing", "subscription", "representative", "human", "please", "i"} <= set(vocab)
    assert "weather" not in vocab
    tok = tiny.hf_tokenizer  # type: ignore[attr-defined]
    allowed = allowed_tokens(tok, "menu", vocab)
    assert set(tok.encode(" subscription", add_special_tokens=False).ids) <= allowed
    assert set(tok.encode(" Billing", add_special_tokens=False).ids) <= allowed
    assert not set(tok.encode(" weather", add_special_tokens=False).ids) <= allowed
    assert len(allowed) < 400  # a few hundred of ~50k tokens
    with pytest.raises(ValueError, match="needs its words"):
        allowed_tokens(tok, "menu")
    assert suppressed_tokens(tiny, "menu", vocab) is suppressed_tokens(tiny, "menu", vocab)


def test_a_menu_answer_is_a_phrase_said_whole_or_a_person_asked_for() -> None:
    assert menu_answer("I want a refund.", PHRASES)
    assert menu_answer("new address", PHRASES)
    assert menu_answer("Representative.", PHRASES)
    assert not menu_answer("Where is the new", PHRASES)  # "new" alone names nothing
    assert not menu_answer("I'd like to close a", PHRASES)
    assert not menu_answer("I'm a real, I'm", PHRASES)


def test_syllables_count_what_a_reading_takes_to_say() -> None:
    assert syllables("representative") == 5
    assert syllables("Please, I'm Bill,") == 3
    assert syllables("Please can feel my cold") == 5
    assert syllables("528 seven") == 5
    assert syllables("") == 0


@pytest.mark.parametrize(("heard", "logprob", "cons", "want"), [
    # Misheard menu answers the forced reading says whole and fits well: it wins.
    ("one for reason.", -1.26, Constrained("I want a refund.", -0.34, 0.0), "I want a refund."),
    ("Right, present it here.", -0.73, Constrained("representative", -0.81, 0.0),
     "representative"),
    ("You would grab.", -0.49, Constrained("new address", -0.93, 0.0), "new address"),
    # It fits badly ("I'm a real person" for "billing": a false escalation)...
    ("Go, go, go.", -1.18, Constrained("I'm a real person", -1.01, 0.0), "Go, go, go."),
    # ...far worse than a clear out-of-domain reading ("can you hear me")...
    ("Can you hear me?", -0.09, Constrained("I'm a new human", -0.84, 0.0), "Can you hear me?"),
    # ...says only part of what was heard ("please cancel my account")...
    ("Please can feel my cold", -0.70, Constrained("Please, I'm Bill,", -0.36, 0.0),
     "Please can feel my cold"),
    # ...or names no option whole ("I'd like to book a flight to Paris").
    ("I'd like to book a white appearance.", -0.32, Constrained("I'd like to close a", -0.12,
                                                                0.0),
     "I'd like to book a white appearance."),
    ("Hello?", -0.45, Constrained("", -0.2, 0.0), "Hello?"),
])
def test_a_menus_constrained_reading_wins_only_where_it_fits_and_names_an_option(
        heard: str, logprob: float, cons: Constrained, want: str) -> None:
    assert choose(heard, logprob, cons, MENU) == want


@needs_espeak_cli
@pytest.mark.parametrize(("text", "want"), [
    ("I want a refund", "refund"),  # tiny.en alone: "I want a reason."
    ("cancel", "cancel"),           # "Can"
])
def test_whisper_at_a_menu_hears_a_misheard_option(text: str, want: str) -> None:
    from callcenter.speech.offline.whisper import WhisperSTT

    heard = WhisperSTT().transcribe(with_silence(espeak_phone(text)).samples, 0.0, expect=MENU)
    assert want in heard.text.lower(), heard.text


@needs_espeak_cli
@pytest.mark.parametrize("text", ["what's the weather like", "can you hear me"])
def test_whisper_at_a_menu_leaves_an_out_of_domain_request_alone(text: str) -> None:
    from callcenter.speech.offline.whisper import WhisperSTT

    heard = WhisperSTT().transcribe(with_silence(espeak_phone(text)).samples, 0.0, expect=MENU)
    assert not menu_answer(heard.text, PHRASES), heard.text
    assert heard.text.lower().startswith(text.split()[0].replace("'s", "")), heard.text


@pytest.mark.parametrize("heard", ["Uh-huh.", "Mm-hmm.", "That is correct.", "Sounds good.",
                                   "Uh-uh.", "Yes, that's right."])
def test_a_reading_that_already_says_yes_or_no_is_not_forced_again(heard: str) -> None:
    # A forced yes/no decode of "uh-huh" once answered "No."
    assert not wants_constrained(heard, YES_NO)


@pytest.mark.parametrize("heard", ["Uh.", "Hmm.", "You ain't.", "Mm."])
def test_a_hesitation_or_a_mishearing_is_decoded_again(heard: str) -> None:
    assert wants_constrained(heard, YES_NO)
