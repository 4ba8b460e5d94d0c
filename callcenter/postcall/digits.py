"""Find runs of digits in speech-to-text output, whether written ("4111 1111") or spoken
("four one one one", "double five", "oh"), with their character spans.

Speech recognisers write numbers both ways, often mixed within one run, and callers group
digits with pauses that come out as spaces, commas, dashes or fillers ("uh"). A run is a
maximal sequence of digit tokens joined only by such separators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD_DIGITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
# "oh"/"o" mean zero only inside a run ("five oh two"), never as its first token.
_ONLY_INSIDE = {"oh", "o"}
_REPEAT = {"double": 2, "triple": 3}
_FILLERS = {"uh", "um", "er", "erm", "hmm"}
# Characters that may sit between digit groups of one number.
_SEPARATOR_CHARS = set(" \t-.,()+/")

_TOKEN = re.compile(r"\d+|[A-Za-z]+(?:'[A-Za-z]+)?|\S")

# Words right after a run that make it an amount rather than an identifier.
_AMOUNT_AFTER = {"dollars", "dollar", "bucks", "cents", "euros", "pounds", "percent"}
_AMOUNT_BEFORE = set("$€£")


@dataclass(slots=True, frozen=True)
class DigitRun:
    """A run of digits in one text: `digits` only, `start`/`end` character span."""

    digits: str
    start: int
    end: int
    spelled: bool  # at least one digit was spoken as a word
    amount: bool  # looks like money or a percentage, not an identifier


def find_runs(text: str) -> list[DigitRun]:
    """All digit runs in `text`, left to right."""
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    runs: list[DigitRun] = []
    i = 0
    while i < len(tokens):
        start_i = _run_start(tokens, i)
        if start_i is None:
            i += 1
            continue
        digits, spelled, last, end_i = _consume(tokens, start_i)
        if digits:
            start = tokens[start_i][1]
            end = tokens[last][2]
            runs.append(
                DigitRun(digits, start, end, spelled, _is_amount(text, tokens, start, end_i))
            )
            i = end_i
        else:
            i = start_i + 1
    return runs


def _digit_value(tokens: list[tuple[str, int, int]], i: int, first: bool) -> tuple[str, int] | None:
    """Digits of the token at i (and how many tokens they used), or None."""
    tok = tokens[i][0]
    low = tok.lower()
    if tok.isdigit():
        return tok, 1
    if low in _WORD_DIGITS and not (first and low in _ONLY_INSIDE):
        return _WORD_DIGITS[low], 1
    if low in _REPEAT and i + 1 < len(tokens):
        value = _digit_value(tokens, i + 1, first=False)
        if value is not None and value[1] == 1 and len(value[0]) == 1:
            return value[0] * _REPEAT[low], 2
    return None


def _run_start(tokens: list[tuple[str, int, int]], i: int) -> int | None:
    return i if _digit_value(tokens, i, first=True) is not None else None


def _consume(tokens: list[tuple[str, int, int]], i: int) -> tuple[str, bool, int, int]:
    """Read a run from token i; returns digits, spelled flag, last digit token, next index."""
    digits: list[str] = []
    spelled = False
    last = i
    j = i
    first = True
    while j < len(tokens):
        value = _digit_value(tokens, j, first=first)
        if value is None:
            break
        text, used = value
        digits.append(text)
        spelled = spelled or not tokens[j][0].isdigit()
        last = j + used - 1
        j += used
        first = False
        # Skip separators and fillers, but only if another digit follows them.
        k = j
        while k < len(tokens) and (
            tokens[k][0] in _SEPARATOR_CHARS or tokens[k][0].lower() in _FILLERS
        ):
            k += 1
        if k < len(tokens) and k != j and _digit_value(tokens, k, first=False) is not None:
            j = k
        elif k == j:
            continue
        else:
            break
    return "".join(digits), spelled, last, last + 1


def _is_amount(text: str, tokens: list[tuple[str, int, int]], start: int, next_i: int) -> bool:
    before = text[:start].rstrip()
    if before and before[-1] in _AMOUNT_BEFORE:
        return True
    return next_i < len(tokens) and tokens[next_i][0].lower() in _AMOUNT_AFTER | {"%"}


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = int(ch)
        if pos % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
