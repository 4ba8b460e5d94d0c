"""Whisper decoding restricted to the words a closed answer can use.

Where the flow waits for a digit string or a yes/no, Whisper's open vocabulary is its
weakness: tiny.en hears "eight five three one zero nine" in an eSpeak voice as
"I'm Brie Woznero". Decoding the same audio again with every token suppressed that cannot
spell such an answer (faster-whisper's `suppress_tokens`) forces the model to pick the
closest digits or yes/no, and its log-probability says how well that reading fits. The
caller of `constrained_decode` weighs it against the open decode (see `whisper.py`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.speech.stt.expect import Expectation, carries_yes_no, is_loop, words

DIGIT_WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight",
               "nine", "double", "triple")
YES_NO_WORDS = ("yes", "yeah", "yep", "yup", "no", "nope", "nah")
# A menu answer is one of its options' phrases, or a person asked for, said in a short
# sentence: the constrained vocabulary of a menu is its phrases' words, these words that
# ask for a person, and these few that carry such a sentence ("I want to cancel, please").
# The words that ask for a person on their own (as `flow.meaning.PERSON_WORDS` does), and
# the words around them ("talk to someone", "a real person").
PERSON_WORDS = ("person", "human", "operator", "representative", "supervisor", "manager",
                "agent")
PERSON_CONTEXT = ("someone", "somebody", "talk", "speak", "real", "live")
MENU_FILLERS = ("i", "i'd", "i'm", "want", "need", "like", "would", "to", "a", "an", "the",
                "my", "me", "please", "with", "about", "it's", "uh", "um")
# Words of a phrase that say nothing of which option it is ("change my address": "my").
_PLAIN = frozenset(MENU_FILLERS) | {"is", "of", "for", "on", "in", "and", "or", "it", "this",
                                    "that", "where", "what", "can", "do", "you", "your", "up"}
_PUNCT = (" ", ".", ",", "-", "!", "?")
_VOWELS = re.compile(r"[aeiouy]+")
KINDS = ("digits", "yes_no", "menu")

_lock = threading.Lock()
_cache: dict[tuple[int, str, tuple[str, ...]], list[int]] = {}
_CACHE_SIZE = 16


@dataclass(frozen=True, slots=True)
class Constrained:
    """A constrained reading: its text and the mean log-probability of its tokens."""

    text: str
    avg_logprob: float
    no_speech_prob: float


def _ids(tokenizer: Any, text: str) -> list[int]:
    ids: list[int] = tokenizer.encode(text, add_special_tokens=False).ids
    return ids


def menu_vocabulary(phrases: Sequence[str]) -> tuple[str, ...]:
    """The words a menu's constrained reading can use: its phrases', a person's, fillers."""
    said = [w for p in phrases for w in words(p)]
    return tuple(dict.fromkeys([*said, *PERSON_WORDS, *PERSON_CONTEXT, *MENU_FILLERS]))


def menu_answer(text: str, phrases: Sequence[str]) -> bool:
    """Does `text` say one of the menu's phrases whole ("new address", not "new") or ask
    for a person by a word that asks for one on its own?"""
    said = words(text)
    if set(said) & set(PERSON_WORDS):
        return True
    line = f" {' '.join(said)} "
    return any(f" {' '.join(words(p))} " in line for p in phrases if words(p))


def syllables(text: str) -> int:
    """About how many syllables `text` takes to say (vowel groups; a numeral's digits one
    each, "seven" and "zero" two): enough to tell a reading that covers the audio from one
    that stopped after a word or two."""
    count = 0
    for word in words(text):
        if word.isdigit():
            count += 2 if word in "70" else 1
            continue
        n = len(_VOWELS.findall(word))
        if n > 1 and word.endswith("e") and not word.endswith(("le", "ee")):
            n -= 1  # a silent e: "please", "cancel" is not
        count += max(1, n)
    return count


def menu_words(phrases: Sequence[str]) -> frozenset[str]:
    """The words that tell a menu's options apart, and the words that ask for a person:
    a reading with none of them answers nothing on a menu."""
    return frozenset(w for p in phrases for w in words(p) if w not in _PLAIN) | frozenset(
        PERSON_WORDS) | {"someone", "somebody"}


def allowed_tokens(tokenizer: Any, kind: str, vocabulary: Sequence[str] = ()) -> set[int]:
    """Token ids (below the special tokens) that can spell an answer of `kind`.

    `vocabulary`: a menu's words (`menu_vocabulary`). Digits and yes/no allow only words
    that are one token; a menu's words are longer ("subscription"), so the pieces of each
    one said after a space (as Whisper writes every word, " Sub" "scription") are allowed:
    they spell other words too, which `choose` does not take for an answer.
    """
    if kind not in KINDS:
        raise ValueError(f"no constrained vocabulary for {kind!r}: use one of {KINDS}")
    if kind == "menu" and not vocabulary:
        raise ValueError("a menu's constrained vocabulary needs its words")
    vocab = DIGIT_WORDS if kind == "digits" else YES_NO_WORDS if kind == "yes_no" else vocabulary
    allowed: set[int] = set()
    for word in vocab:
        for variant in dict.fromkeys((word, word.capitalize(), word.upper())):
            for spaced in (variant, " " + variant):
                ids = _ids(tokenizer, spaced)
                # Only a word that is one token in itself: its pieces ("n", "ope") would
                # let the decoder spell anything.
                pieces = kind == "menu" and spaced[0] == " " and variant != word.upper()
                if len(ids) == 1 or pieces:
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


def suppressed_tokens(model: Any, kind: str, vocabulary: Sequence[str] = ()) -> list[int]:
    """Every ordinary token of `model`'s vocabulary that cannot spell a `kind` answer.

    Special tokens (end of text, timestamps, task tokens) are left to faster-whisper.
    Built once per model, kind and vocabulary (~0.5 s for the digit scan, ~10 ms a menu).
    """
    key = (id(model), kind, tuple(vocabulary))
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            return hit
    tokenizer = model.hf_tokenizer
    eot = tokenizer.token_to_id("<|endoftext|>")
    allowed = allowed_tokens(tokenizer, kind, vocabulary)
    out = [t for t in range(eot) if t not in allowed]
    with _lock:
        _cache[key] = out
        while len(_cache) > _CACHE_SIZE:  # a menu's list each: flows have a few menus
            _cache.pop(next(iter(_cache)))
    return out


def max_tokens(kind: str, digits: int | None, seconds: float = 0.0) -> int:
    """A bound on a constrained reading's length: a closed answer is short, and without a
    bound greedy decoding of a forced vocabulary runs into "no, no, no, ..." to the end.
    A menu answer is a short sentence: ~3 tokens a second of audio, at most 24."""
    if kind == "yes_no":
        return 4
    if kind == "menu":
        return min(24, 6 + int(3 * seconds))
    return 2 * (digits or 10) + 4  # a digit or a word each, with separators


def constrained_decode(model: Any, audio: Any, kind: str, *, beam_size: int = 1,
                       prompt: str | None = None, digits: int | None = None,
                       phrases: Sequence[str] = ()) -> Constrained:
    """Blocking: decode `audio` (16 kHz float32) with only `kind`'s vocabulary allowed
    (a menu's: `menu_vocabulary(phrases)`)."""
    vocabulary = menu_vocabulary(phrases) if kind == "menu" else ()
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
        suppress_tokens=suppressed_tokens(model, kind, vocabulary),
        suppress_blank=True,
        initial_prompt=prompt,
        max_new_tokens=max_tokens(kind, digits, len(audio) / 16000),
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
    # A menu's reading is a sentence of its words that says a phrase of it whole, or asks
    # for a person (`menu_answer`). It must fit the audio this well, no worse than the open
    # reading by more than `menu_margin` (an out-of-domain request such as "can you hear
    # me" fits its open reading far better than any forced menu sentence), and take at
    # least `menu_coverage` of the open reading's syllables to say. Calibrated on the
    # tuning parts' menu, human and out-of-domain lines (constrained readings that gave a
    # wrong route or a false escalation fit at -1.01 or worse, covered 0.6 or less, or fit
    # 0.75 worse than the open reading; right ones fit at -0.93 or better).
    menu_min_logprob: float = -0.95
    menu_margin: float = 0.5
    menu_coverage: float = 0.75


_SPOKEN_DIGITS = frozenset(DIGIT_WORDS[:11])
_YES = ("yes", "yeah", "yep", "yup")
_NO = ("no", "nope", "nah")
# Words that carry a digit string's meaning, or are neutral around it.
_DIGITISH = _SPOKEN_DIGITS | {"double", "triple", "uh", "um", "it's", "is", "the", "my"}


# Whisper's usual spellings of digits on phone audio, which the digit parser reads as
# digits inside a run ("4.8 to 9.1 free." is 482913): they count for the open reading.
_HEARD_AS_DIGITS = frozenset({"to", "too", "for", "won", "ate", "free", "tree", "a"})


def _digit_count(text: str) -> int:
    return sum(len(w) if w.isdigit() else w in _SPOKEN_DIGITS or w in _HEARD_AS_DIGITS
               for w in words(text))


def closed_kind(expect: Expectation | None) -> str | None:
    """The constrained vocabulary this expectation can use: digits, yes_no, menu or none."""
    if expect is None:
        return None
    if expect.digits:
        return "digits"
    if expect.yes_no:
        return "yes_no"
    return "menu" if expect.phrases else None


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
        return not carries_yes_no(heard)
    if kind == "menu" and expect is not None:
        # No word of any option and no person asked for: misheard ("will in clean" for
        # "billing please"), or out of the menu's domain ("what's the weather"), which
        # `choose` must tell apart.
        return not set(said) & menu_words(expect.phrases)
    return False


def choose(heard: str, heard_logprob: float, constrained: Constrained,
           expect: Expectation | None, rule: ConstrainedChoice = ConstrainedChoice()) -> str:
    """The open reading, or the constrained one where it gives the answer the open one lacks."""
    kind = closed_kind(expect)
    if kind is None or not constrained.text or is_loop(constrained.text):
        return heard
    if kind == "menu" and expect is not None:
        fits = constrained.avg_logprob >= max(rule.menu_min_logprob,
                                              heard_logprob - rule.menu_margin)
        # A forced reading that stopped after a word or two ("Please, I'm Bill," for
        # "please cancel my account") fits its few tokens well but not the audio.
        covers = syllables(constrained.text) >= rule.menu_coverage * syllables(heard)
        answers = menu_answer(constrained.text, expect.phrases)
        return constrained.text if fits and covers and answers else heard
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


