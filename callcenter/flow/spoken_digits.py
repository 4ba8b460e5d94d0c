"""Digit strings as callers say them: inside sentences, in groups, with "oh", "double",
"seven seventy", and corrections ("four eight two, no, four eight three ...").

The recognizer may write digits as words ("four eight two"), numerals ("482", "4-8-2"),
or a mix. Words like "to", "for" and "oh" are digits only next to other digits, so "I want
to talk" stays words. Pure functions; no knowledge of the flow beyond an optional length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNITS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
          "six": "6", "seven": "7", "eight": "8", "nine": "9", "oh": "0", "o": "0"}
# Heard for digits by the recognizer, but ordinary words too: digits only inside a run.
# "free"/"tree": Whisper tiny.en's usual spelling of a "three" on 8 kHz phone audio.
# "heaven": its spelling of a "seven" said first ("Heaven 3 2, no wait").
_WEAK = {"oh": "0", "o": "0", "to": "2", "too": "2", "for": "4", "won": "1", "ate": "8",
         "free": "3", "tree": "3", "heaven": "7"}
# Digits only right after another digit of the run: "for a 2 9 1 3" is "four eight two
# nine one three" (tiny.en's "a" for an "eight"), but "it's a four ..." starts with a word.
_AFTER_DIGIT = {"a": "8"}
_TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
          "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18",
          "nineteen": "19"}
_TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6",
         "seventy": "7", "eighty": "8", "ninety": "9"}
_REPEAT = {"double": 2, "triple": 3}
_HUNDRED = "H"  # a marker, resolved by _fix_hundreds once the run is complete
# A caller taking back what they just said.
_CORRECTION = re.compile(
    r"\b(no wait|no sorry|sorry|i mean|i meant|no no|no|wait|actually|let me start again|"
    r"scratch that|correction)\b")
_TOKEN = re.compile(r"[a-z]+'?[a-z]*|\d+|[,.;:!?]")


@dataclass(slots=True)
class _Run:
    """Consecutive digit words; `strong` once a real digit (not 'to'/'for'/'oh') is in it."""

    digits: list[str] = field(default_factory=list)
    strong: bool = False


def _tokens(text: str) -> list[str]:
    t = text.lower().replace("-", " ").replace("\u2019", "'")
    t = re.sub(r"(\d),(\d{3})\b", r"\1\2", t)  # "482,913" is one number
    return _TOKEN.findall(t)


def _runs(tokens: list[str]) -> list[_Run]:
    """Split tokens into digit runs; any other word or a pause mark ends a run."""
    runs: list[_Run] = []
    run = _Run()
    repeat = 1
    i = 0

    def close() -> None:
        nonlocal run
        if run.digits:
            runs.append(run)
        run = _Run()

    while i < len(tokens):
        w = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        piece: str | None = None
        strong = True
        if w.isdigit():
            piece = w
        elif w in _REPEAT and (nxt.isdigit() or nxt in _UNITS or nxt in _WEAK):
            repeat = _REPEAT[w]
            i += 1
            continue
        elif w in _TENS:
            # "seventy" is 70, "seventy two" is 72 ("seven seventy" -> 770).
            if nxt in _UNITS and nxt not in ("oh", "o", "zero"):
                piece, i = _TENS[w] + _UNITS[nxt], i + 1
            else:
                piece = _TENS[w] + "0"
        elif w in _TEENS:
            piece = _TEENS[w]
        elif w == "hundred" and run.digits:
            piece = _HUNDRED
        elif w in _UNITS and w not in _WEAK:
            piece = _UNITS[w]
        elif w in _WEAK:
            piece, strong = _WEAK[w], False
        elif w in _AFTER_DIGIT and run.digits and (
                nxt.isdigit() or nxt in _UNITS or nxt in _WEAK):
            piece, strong = _AFTER_DIGIT[w], False
        if piece is None:
            close()
            repeat = 1
            i += 1
            continue
        if len(piece) == 1:
            piece *= repeat
        repeat = 1
        run.digits.append(piece)
        run.strong = run.strong or strong
        i += 1
    close()
    return [r for r in runs if r.strong]


def _fix_hundreds(digits: list[str]) -> str:
    # "four hundred twelve": 4 H 12 -> 412; "four hundred" -> 400; "four hundred six" -> 406.
    out = ""
    for n, d in enumerate(digits):
        if d != _HUNDRED:
            out += d
            continue
        after = digits[n + 1] if n + 1 < len(digits) else ""
        out += "" if len(after) == 2 else "0" if len(after) == 1 else "00"
    return out


def digit_groups(text: str) -> list[str]:
    """The digit groups in `text`, after the caller's corrections are applied.

    A correction word ("no", "sorry", "I mean", "wait") between groups takes back the group
    said just before it: "four eight two, no, four eight three" -> ["483"].
    """
    groups: list[str] = []
    pieces = _CORRECTION.split(text.lower())
    # re.split with a group keeps the markers at odd positions.
    for n, piece in enumerate(pieces):
        if n % 2:
            if groups and _CORRECTION.fullmatch(piece):
                groups[-1] = ""  # taken back
            continue
        groups += [_fix_hundreds(r.digits) for r in _runs(_tokens(piece))]
    return [g for g in groups if g]


def spoken_digits(text: str, *, min_length: int | None = None,
                  max_length: int | None = None) -> str | None:
    """The digit string a caller said ("my order is four eight two, nine one three").

    Groups are joined. When a length is known and the whole does not fit, the trailing
    groups that fit win (a caller who restarts reads the full number last).
    """
    groups = digit_groups(text)
    if not groups:
        return None
    joined = "".join(groups)

    def fits(s: str) -> bool:
        return (min_length is None or len(s) >= min_length) and (
            max_length is None or len(s) <= max_length)

    if fits(joined):
        return joined
    for k in range(len(groups) - 1, 0, -1):
        tail = "".join(groups[-k:])
        if fits(tail):
            return tail
    return joined


def keypad_word(text: str) -> str | None:
    """A single key said as a word ("two", "press 2", "option three"), else None."""
    filler = {"press", "option", "number", "the", "um", "uh", "please", "key", "pressing",
              "i'll", "i", "choose", "pick", "select"}
    words = [w for w in _tokens(text) if w not in filler and w not in ",.;:!?"]
    if len(words) != 1:
        return None
    w = words[0]
    if w.isdigit() and len(w) == 1:
        return w
    if w in ("star", "pound", "hash"):
        return "*" if w == "star" else "#"
    return _UNITS.get(w) if w not in ("oh", "o") else None
