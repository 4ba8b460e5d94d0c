"""Whisper decoding restricted to the words a closed answer can use.

Where the flow waits for a digit string or a yes/no, Whisper's open vocabulary is its
weakness: tiny.en hears "eight five three one zero nine" in an eSpeak voice as
"I'm Brie Woznero". Decoding the same audio again with every token suppressed that cannot
spell such an answer (faster-whisper's `suppress_tokens`) forces the model to pick the
closest digits or yes/no, and its log-probability says how well that reading fits. The
caller of `constrained_decode` weighs it against the open decode (see `whisper.py`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from callcenter.speech.stt.expect import Expectation, is_loop, words

DIGIT_WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight",
               "nine", "double", "triple")
YES_NO_WORDS = ("yes", "yeah", "yep", "yup", "no", "nope", "nah")
_PUNCT = (" ", ".", ",", "-", "!", "?")
KINDS = ("digits", "yes_no")

_lock = threading.Lock()
_cache: dict[tuple[int, str], list[int]] = {}


@dataclass(frozen=True, slots=True)
class Constrained:
    """A constrained reading: its text and the mean log-probability of its tokens."""

    text: str
    avg_logprob: float
    no_speech_prob: float


def _ids(tokenizer: Any, text: str) -> list[int]:
    ids: list[int] = tokenizer.encode(text, add_special_tokens=False).ids
    return ids


def allowed_tokens(tokenizer: Any, kind: str) -> set[int]:
    """Token ids (below the special tokens) that can spell an answer of `kind`."""
    if kind not in KINDS:
        raise ValueError(f"no constrained vocabulary for {kind!r}: use one of {KINDS}")
    words = DIGIT_WORDS if kind == "digits" else YES_NO_WORDS
    allowed: set[int] = set()
    for word in words:
        for variant in (word, word.capitalize(), word.upper()):
            for spaced in (variant, " " + variant):
                ids = _ids(tokenizer, spaced)
                # Only a word that is one token in itself: its pieces ("n", "ope") would
                # let the decoder spell anything.
                if len(ids) == 1:
                    allowed.update(ids)
    for mark in _PUNCT:
        allowed.update(_ids(tokenizer, mark))
    if kind == "digits":
        # Whisper writes numbers as numerals ("853109", " 85", "3-1"): every token that is
        # digits only, with or without a leading space.
        for token_id in range(tokenizer.get_vocab_size()):
            piece = tokenizer.decode([token_id]).strip()
            if piece.isdigit() and piece.isascii():
                allowed.add(token_id)
    return allowed


def suppressed_tokens(model: Any, kind: str) -> list[int]:
    """Every ordinary token of `model`'s vocabulary that cannot spell a `kind` answer.

    Special tokens (end of text, timestamps, task tokens) are left to faster-whisper.
    Built once per model and kind (~0.5 s for the digit scan).
    """
    key = (id(model), kind)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            return hit
    tokenizer = model.hf_tokenizer
    eot = tokenizer.token_to_id("<|endoftext|>")
    allowed = allowed_tokens(tokenizer, kind)
    out = [t for t in range(eot) if t not in allowed]
    with _lock:
        _cache[key] = out
    return out


def max_tokens(kind: str, digits: int | None) -> int:
    """A bound on a constrained reading's length: a closed answer is short, and without a
    bound greedy decoding of a forced vocabulary runs into "no, no, no, ..." to the end."""
    if kind == "yes_no":
        return 4
    return 2 * (digits or 10) + 4  # a digit or a word each, with separators


def constrained_decode(model: Any, audio: Any, kind: str, *, beam_size: int = 1,
                       prompt: str | None = None, digits: int | None = None) -> Constrained:
    """Blocking: decode `audio` (16 kHz float32) with only `kind`'s vocabulary allowed."""
    segments, _ = model.transcribe(
        audio,
        language="en",
        beam_size=beam_size,
        best_of=1,
        temperature=0.0,
        vad_filter=False,
        condition_on_previous_text=False,
        without_timestamps=True,
        word_timestamps=False,
        suppress_tokens=suppressed_tokens(model, kind),
        suppress_blank=True,
        initial_prompt=prompt,
        max_new_tokens=max_tokens(kind, digits),
    )
    texts, logprobs, no_speech = [], [], 0.0
    for seg in segments:
        texts.append(seg.text.strip())
        logprobs.append(float(seg.avg_logprob))
        no_speech = max(no_speech, float(seg.no_speech_prob))
    avg = sum(logprobs) / len(logprobs) if logprobs else float("-inf")
    return Constrained(" ".join(t for t in texts if t), avg, no_speech)


@dataclass(frozen=True, slots=True)
class ConstrainedChoice:
    """When the constrained reading replaces the open one (tuned on the bench's tuning parts).

    `min_logprob`: the constrained reading must fit the audio at least this well (mean token
    log-prob). `open_sure` / `open_words`: an open reading this sure of itself and longer
    than this many words is kept whatever the constrained one says: a caller who says a
    sentence ("I want to talk to a person") at a digits prompt meant the sentence.
    """

    min_logprob: float = -0.8
    open_sure: float = -0.5
    open_words: int = 3


_SPOKEN_DIGITS = frozenset(DIGIT_WORDS[:11])
_YES = ("yes", "yeah", "yep", "yup")
_NO = ("no", "nope", "nah")
# Words that carry a digit string's meaning, or are neutral around it.
_DIGITISH = _SPOKEN_DIGITS | {"double", "triple", "uh", "um", "it's", "is", "the", "my"}
_YES_NO_SAID = frozenset(_YES + _NO) | {"correct", "right", "sure", "okay", "ok", "not",
                                        "wrong", "affirmative", "negative", "incorrect"}


# Whisper's usual spellings of digits on phone audio, which the digit parser reads as
# digits inside a run ("4.8 to 9.1 free." is 482913): they count for the open reading.
_HEARD_AS_DIGITS = frozenset({"to", "too", "for", "won", "ate", "free", "tree", "a"})


def _digit_count(text: str) -> int:
    return sum(len(w) if w.isdigit() else w in _SPOKEN_DIGITS or w in _HEARD_AS_DIGITS
               for w in words(text))


def closed_kind(expect: Expectation | None) -> str | None:
    """The constrained vocabulary this expectation can use: digits, yes_no or none."""
    if expect is None:
        return None
    if expect.digits:
        return "digits"
    return "yes_no" if expect.yes_no else None


def wants_constrained(heard: str, expect: Expectation | None) -> bool:
    """Is a constrained decode worth its cost: the open reading lacks a closed answer."""
    kind = closed_kind(expect)
    said = words(heard)
    if kind == "digits":
        if not said or any(not w.isdigit() and w not in _DIGITISH for w in said):
            return True
        # Digits and fillers only, but fewer than a complete answer has: tiny.en drops a
        # digit now and then ("4.8.2.1.3." for "four eight two nine one three"). A group
        # of a number said in groups is decoded again too; `choose` keeps it unless the
        # constrained reading is the whole answer.
        return expect is not None and bool(expect.digits) and _digit_count(heard) < (
            expect.digits or 0)
    if kind == "yes_no":
        return not set(said) & _YES_NO_SAID
    return False


def choose(heard: str, heard_logprob: float, constrained: Constrained,
           expect: Expectation | None, rule: ConstrainedChoice = ConstrainedChoice()) -> str:
    """The open reading, or the constrained one where it gives the answer the open one lacks."""
    kind = closed_kind(expect)
    if kind is None or not constrained.text or is_loop(constrained.text):
        return heard
    if constrained.avg_logprob < rule.min_logprob:
        return heard
    said = words(heard)
    # Only the words that are no answer make a sentence ("4.8.2.1.3." is five digits).
    sentence = [w for w in said if not w.isdigit() and w not in _DIGITISH] if (
        kind == "digits") else said
    if heard_logprob > rule.open_sure and len(sentence) > rule.open_words:
        return heard
    if kind == "digits":
        have, got = _digit_count(heard), _digit_count(constrained.text)
        if said and not sentence and expect is not None and expect.digits:
            # The open reading is digits already, only too few: the constrained one wins
            # only as a whole answer (never a digit or two added to one group of it).
            return constrained.text if got >= expect.digits > have else heard
        return constrained.text if got > have else heard
    first = words(constrained.text)[:1]
    if first and first[0] in _YES:
        return "Yes."
    if first and first[0] in _NO:
        return "No."
    return heard


