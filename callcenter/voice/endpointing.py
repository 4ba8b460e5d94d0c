"""End-of-turn rules: is the caller done, or mid-way through something?

Three answers to "how long after the caller's last speech do we commit the turn":
- complete (the flow's question is answered in full: exactly the digits it expects, or a
  plain yes/no to a yes/no question): almost at once, `COMPLETE_DELAY` at most;
- unfinished ("my number is", "and", digits mid-way): `max_delay`;
- anything else: `min_delay`.
"""

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
# Answers that settle a yes/no question on their own (the whole turn, not its first word:
# "yes but only on weekends" is a sentence, not a yes).
_YES_NO = re.compile(
    r"^(yes|yeah|yep|yup|sure|correct|right|that's right|that is right|absolutely|"
    r"no|nope|nah|no thanks|no thank you|not really|yes please|yes thanks|yes thank you|"
    r"yes that's right|yes it is|no it isn't|no it's not|no it is not)$"
)
# Seconds a complete answer still waits: long enough for the last speech's frame to be
# scored, short next to the 0.4 s `min_delay` a free sentence needs.
COMPLETE_DELAY = 0.05
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
    shorter answer counts as unfinished, one with no digits in it yet included.
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
    # Fewer than the expected digits, none included: a first group the recognizer heard
    # as words ("You will want." for "two oh one") must not end the turn either.
    if expected_digits is not None and n < expected_digits:
        return True
    # Digit strings are read in groups with pauses ("four eight two ... nine one three"):
    # ending on a digit after a few of them means the caller is probably still reading.
    tail_digit = words[-1] in _DIGIT_WORDS or words[-1].isdigit()
    return expected_digits is None and tail_digit and 2 <= n < 4 and not t.endswith(".")


def is_clear_yes_no(text: str) -> bool:
    """The whole answer is a plain yes or no ("Yes.", "no thank you", "that's right")."""
    return bool(_YES_NO.match(" ".join(_words(text))))


def answer_complete(
    text: str, *, expected_digits: int | None = None, yes_no: bool = False
) -> bool:
    """True when `text` fully answers what the flow asked: exactly `expected_digits`
    digits (and nothing that reads as more to come), or a clear yes/no when `yes_no`."""
    if yes_no and is_clear_yes_no(text):
        return True
    if expected_digits is None or digit_count(text) != expected_digits:
        return False
    return not looks_unfinished(text, expected_digits=expected_digits)


def endpoint_delay(
    text: str, settings: EndpointingSettings, *, expected_digits: int | None = None,
    yes_no: bool = False,
) -> float:
    """Seconds to wait after the caller's last speech before committing the turn."""
    if answer_complete(text, expected_digits=expected_digits, yes_no=yes_no):
        return min(settings.min_delay, COMPLETE_DELAY)
    if looks_unfinished(text, expected_digits=expected_digits):
        return settings.max_delay
    return settings.min_delay
