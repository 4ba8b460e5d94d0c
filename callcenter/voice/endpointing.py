"""End-of-turn rules: is the caller done, or mid-way through something?"""

from __future__ import annotations

import re

from callcenter.voice.settings import EndpointingSettings

# Words a finished sentence rarely ends on: conjunctions, prepositions, articles, fillers.
_TRAILING = {
    "and", "or", "but", "so", "because", "then", "the", "a", "an", "to", "of", "for",
    "with", "my", "your", "is", "are", "was", "um", "uh", "er", "like", "if", "that",
    "at", "in", "on", "from", "it's", "its", "number", "plus",
}
# Lead-ins that announce more to come: "my number is", "it's", "the code is".
_LEAD_INS = re.compile(
    r"\b(my|the|our|account|order|phone|card|zip|post(al)?)\b[\w\s]{0,20}\b(is|was|number)\s*$"
)
_DIGIT_WORDS = {
    "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
}


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def digit_count(text: str) -> int:
    """Digits spoken so far, as numerals or as words."""
    return sum(ch.isdigit() for ch in text) + sum(w in _DIGIT_WORDS for w in _words(text))


def looks_unfinished(text: str, *, expected_digits: int | None = None) -> bool:
    """True when `text` reads like the caller has more to say.

    `expected_digits`: a flow asking for, say, a 6-digit order number passes 6, and any
    shorter digit string counts as unfinished.
    """
    t = text.strip().lower().rstrip(" ,")
    if not t:
        return False
    if t.endswith(("...", "-")):
        return True
    words = _words(t)
    if not words:
        return False
    if words[-1] in _TRAILING or _LEAD_INS.search(t):
        return True
    n = digit_count(t)
    if expected_digits is not None and 0 < n < expected_digits:
        return True
    # Digit strings are read in groups with pauses ("four eight two ... nine one three"):
    # ending on a digit after a few of them means the caller is probably still reading.
    tail_digit = words[-1] in _DIGIT_WORDS or words[-1].isdigit()
    return expected_digits is None and tail_digit and 2 <= n < 4 and not t.endswith(".")


def endpoint_delay(
    text: str, settings: EndpointingSettings, *, expected_digits: int | None = None
) -> float:
    """Seconds to wait after the caller's last speech before committing the turn."""
    if looks_unfinished(text, expected_digits=expected_digits):
        return settings.max_delay
    return settings.min_delay
