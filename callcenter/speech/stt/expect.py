"""What the flow is listening for on a turn, as the recognizer can use it.

A flow's `Listen` knows what a complete answer looks like: so many digits, a yes or a no,
one of a menu's phrases. Open-vocabulary Whisper tiny.en on 8 kHz phone audio mishears
exactly those short answers ("no" as "Now.", "eight" as "A", "nope" as "Nobe"). Told what
to expect (its initial prompt and hotwords) it hears them far better, and for closed
answers a constrained grammar gives a second opinion (`second_opinion`). Pure data and
text: no engine here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

# Whisper's prompt is "the text before this audio": a line in the style we want back.
# Digit strings get none: tiny.en already writes them as numerals, and a prompt of digits
# made it drop some (a '2' of "four eight two nine one three"); the grammar checks them.
_YES_NO_PROMPT = "Yes. No. Yeah. Nope. Yep. Correct."
# Answer types with a style of their own (an ask's `expect`).
_KIND_PROMPTS = {
    "date": "Tuesday, December first. The fifth of January. Next Monday. Tomorrow.",
    "time": "3:30 PM. 11 in the morning. Noon. A quarter past 10 AM.",
}
_MAX_PHRASES = 12  # the prompt is at most ~220 tokens; a long menu keeps its first phrases
_WORD = re.compile(r"[a-z']+|\d")
_DIGIT_WORDS = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight",
                "nine"}
# Words that carry a yes or a no in Whisper's own text: where one is heard the grammar
# (which always answers "yes" or "no", even to "uh huh") is not asked. The bench's tuning
# parts had "Uh-huh." and "Sounds good." replaced by the grammar's "no".
_YES_NO_WORDS = {"yes", "yeah", "yep", "yup", "no", "nope", "nah", "correct", "right", "sure",
                 "okay", "ok", "not", "absolutely", "definitely", "wrong", "negative",
                 "uh", "huh", "mm", "hmm", "mhm", "sounds", "good", "fine", "course", "indeed",
                 "exactly", "perfect", "affirmative", "incorrect", "never", "don't", "isn't",
                 "thanks", "that's", "works", "go"}
# Sounds that say yes or no only as a pair ("uh-huh", "uh-uh", "mm-hmm"): alone, "uh" or
# "mm" is a hesitation, which a forced reading may still make an answer of.
_YES_NO_PAIRS = {("uh", "huh"), ("uh", "uh"), ("mm", "hmm"), ("mm", "mm"), ("hmm", "mm")}


def carries_yes_no(text: str) -> bool:
    """Does `text` already hold a yes or a no (or the words around one, "that's right",
    "sounds good")? Then neither the grammar nor a forced decode is asked: both always
    answer "yes" or "no", and on "uh-huh" or "that is correct" they once answered "no"."""
    said = words(text)
    if set(said) & (_YES_NO_WORDS - {"uh", "mm", "hmm"}):
        return True
    return any(pair in _YES_NO_PAIRS for pair in itertools.pairwise(said))


# A phrase said again and again: greedy tiny.en's failure mode when a prompt misleads it
# ("No. No. No. ..." for "that's it"). Four times in a row is never a caller's answer.
_LOOP = re.compile(r"(\b.{1,40}?)(?:[\s,.!?]+\1\b){3,}", re.IGNORECASE)
# A phrase of two words or more three times in a row: the short encoder window's loop on a
# group of digits ("1, 6, 6, 1, 6, 6, 1, 6, 6" for "one six six", "3 1 4 3 1 4 3 1 4").
# Callers repeat a word ("no no no"), not a group of words three times over.
_PHRASE_LOOP = re.compile(r"(\b[\w']+(?:[\s,.!?-]+[\w']+)+?)(?:[\s,.!?-]+\1\b){2,}",
                          re.IGNORECASE)
# How fast a caller speaks at most: ~4 digits or ~5 words a second of speech (a fast
# speaker reads a number at ~3 digits a second). A reading with more in it than its audio
# can hold was not said: the decoder looped or made it up ("618 618 618 ..." in one second).
DIGITS_PER_SECOND = 4.0
WORDS_PER_SECOND = 5.0
_SPOKEN = re.compile(r"\d|[a-z']+")


@dataclass(frozen=True, slots=True)
class Expectation:
    """The answer the flow waits for: `digits` long, a yes/no, or one of `phrases`."""

    digits: int | None = None
    yes_no: bool = False
    phrases: tuple[str, ...] = ()
    kind: str | None = None  # an ask's answer type with a prompt of its own (date, time)

    @classmethod
    def of(cls, *, digits: int | None = None, yes_no: bool = False,
           phrases: Sequence[str] = (), kind: str | None = None) -> Expectation | None:
        """None when nothing is expected (a free answer: Whisper is left alone)."""
        exp = cls(digits, yes_no, tuple(dict.fromkeys(p.strip() for p in phrases if p.strip())),
                  kind if kind in _KIND_PROMPTS else None)
        return exp if exp.digits or exp.yes_no or exp.phrases or exp.kind else None

    def prompt(self) -> str:
        """Whisper's initial prompt: a line like the answer we expect ("" for none)."""
        parts: list[str] = []
        if self.phrases:
            parts.append(", ".join(self.phrases[:_MAX_PHRASES]) + ".")
        if self.yes_no:
            parts.append(_YES_NO_PROMPT)
        if self.kind:
            parts.append(_KIND_PROMPTS[self.kind])
        return " ".join(parts)


def is_loop(text: str) -> bool:
    """Whisper repeating itself: the same phrase four or more times in a row, or a phrase of
    two or more words three times."""
    return bool(_LOOP.search(text) or _PHRASE_LOOP.search(text))


def collapse_loops(text: str) -> str:
    """The text with each run of a repeated phrase said once ("No. No. No." -> "No.")."""
    return _PHRASE_LOOP.sub(r"\1", _LOOP.sub(r"\1", text))


def spoken_counts(text: str) -> tuple[int, int]:
    """(digits, words) a reading takes to say: every digit of a numeral is a word of its own
    ("528" is "five two eight"), a spoken digit is a digit."""
    said = _SPOKEN.findall(text.lower().replace("\u2019", "'"))
    digits = sum(w.isdigit() or w in _DIGIT_WORDS for w in said)
    return digits, len(said)


def too_dense(text: str, seconds: float) -> bool:
    """More digits or words in `text` than `seconds` of speech can hold (see
    `DIGITS_PER_SECOND`): the reading is a loop or a hallucination, not what was said.

    Words get one word of slack (a short answer in a short clip); digits none: the short
    window's "777 7" for "seven seven seven" in 0.9 s of speech is one digit too many.
    """
    digits, said = spoken_counts(text)
    return digits > DIGITS_PER_SECOND * seconds or said > WORDS_PER_SECOND * seconds + 1


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def second_opinion(heard: str, grammar: str, grammar_confidence: float,
                   exp: Expectation, *, min_confidence: float = 0.0) -> str:
    """Whisper's words, or the grammar's when Whisper plainly misheard a closed answer.

    The grammar always answers with something in it, even for "I want a manager", so it
    only wins where Whisper's text is short and carries no answer of the expected kind:
    a segment of a digit string with fewer digits than the grammar heard and one stray word
    at most,
    or a one- or two-word reply to a yes/no question with no yes/no word in it.
    """
    if not grammar or grammar_confidence < min_confidence:
        return heard
    said = words(heard)
    if exp.digits and grammar.isdigit():
        have = sum(w.isdigit() or w in _DIGIT_WORDS for w in said)
        others = len(said) - have
        # One stray word at most ("A nine." for "eight nine"): a sentence is never replaced.
        if len(grammar) > have and others <= 1 and len(said) <= 3 and not (
                set(said) & _YES_NO_WORDS):
            return " ".join(grammar)
    # A hesitation alone ("Uh.") is not replaced either: the grammar hears "no" in it.
    if exp.yes_no and grammar in ("yes", "no") and len(said) <= 2 and not (
            set(said) & _YES_NO_WORDS):
        return grammar
    return heard
