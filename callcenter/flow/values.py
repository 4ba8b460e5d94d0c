"""Turn what a caller said or keyed into a slot value, or say it does not fit.

Speech arrives as recognizer text ("one two three", "1, 2, 3.", "next Tuesday", "yeah"),
keypad input as digits. Each `expect` type has a parser; `pattern`, `min_length`,
`max_length` and `choices` then check the normalized value. Pure: "today" is passed in.
Digits live in `spoken_digits`, dates and times in `spoken_time`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from callcenter.flow import patterns
from callcenter.flow.nodes import AskNode, Choice
from callcenter.flow.spoken_digits import keypad_word, spoken_digits
from callcenter.flow.spoken_time import spoken_date, spoken_time

__all__ = ["keypad_word", "match_choice", "parse_answer", "spoken_date", "spoken_digits",
           "spoken_number", "spoken_time", "words", "yes_no"]

_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
# Multi-word phrases are matched as whole words inside the answer.
_YES = ("yes", "yeah", "yea", "ya", "yep", "yup", "yes please", "sure", "correct", "right",
        "affirmative", "ok", "okay", "alright", "all right", "absolutely", "definitely",
        "true", "of course", "uh huh", "mm hmm", "mhm", "mmhmm", "mmm", "indeed", "exactly",
        "sounds good", "go ahead", "please do", "you got it", "that's it", "that is it",
        "it is", "that's right", "fine", "perfect", "certainly", "yes sir", "yes ma'am")
_NO = ("no", "nope", "nah", "negative", "incorrect", "wrong", "false", "not really",
       "no thanks", "no thank you", "i'm good", "i am good", "not yet", "no way", "never")
# A denial that contains a yes-word: checked first.
_DENIALS = ("not right", "not correct", "isn't right", "isn't correct", "is not right",
            "is not correct", "that's wrong", "not at all", "don't think so", "do not think so",
            "not it", "not really", "i don't", "it's not", "it isn't", "no way")
# "Uh-uh" and "mm-mm" say no only as the whole answer, written as one word: "uh, uh" with a
# pause is a caller hesitating, and a word split leaves both as "uh uh".
_NO_SOUND = re.compile(r"uh-uh|nuh-uh|unh-unh|mm-mm|mm-mmm|mmm-mm")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (keeps digits, apostrophes and ':')."""
    return re.findall(r"[a-z0-9':]+", text.lower().replace("-", " ").replace("\u2019", "'"))


def spoken_number(text: str) -> float | None:
    """'42', 'twenty five', 'three point five', 'a hundred' -> a number."""
    compact = text.strip().replace(",", "")
    try:
        return float(compact)
    except ValueError:
        pass
    total, current, seen = 0.0, 0.0, False
    for w in words(text):
        if w in _SMALL:
            current += _SMALL[w]
        elif w.replace(".", "", 1).isdigit():
            current += float(w)
        elif w == "hundred":
            current = (current or 1) * 100
        elif w == "thousand":
            total, current = total + (current or 1) * 1000, 0
        elif w in ("a", "and", "an"):
            continue
        else:
            return None
        seen = True
    return total + current if seen else None


def yes_no(text: str) -> bool | None:
    """Yes/no from speech or keypad (1 = yes, 2 = no), by what the answer means.

    A denial phrase ("not right", "I don't think so") wins; otherwise the first yes- or
    no-word decides, so "no, that's all, thanks" is no and "yes, that's correct" is yes.
    """
    t = text.strip().lower().rstrip(".!")
    if t == "1":
        return True
    if t == "2" or _NO_SOUND.fullmatch(t):
        return False
    said = " " + " ".join(words(t)) + " "
    if any(f" {p} " in said for p in _DENIALS):
        return False
    first: tuple[int, bool] | None = None
    for phrases, meaning in ((_YES, True), (_NO, False)):
        for p in phrases:
            at = said.find(f" {p} ")
            if at != -1 and (first is None or at < first[0]):
                first = (at, meaning)
    return None if first is None else first[1]


def match_choice(text: str, choices: list[str | Choice]) -> str | None:
    """The choice whose value, phrase or key the caller used (longest phrase wins)."""
    said = " ".join(words(text))
    best: tuple[int, str] | None = None
    for c in choices:
        value, phrases, key = (c, [c], None) if isinstance(c, str) else (
            c.value, [c.value, *c.phrases], c.key)
        if key is not None and text.strip() == key:
            return value
        for p in phrases:
            norm = " ".join(words(p))
            found = norm and re.search(rf"\b{re.escape(norm)}\b", said)
            if found and (best is None or len(norm) > best[0]):
                best = (len(norm), value)
    return best[1] if best else None


def parse_answer(node: AskNode, text: str, *, from_dtmf: bool, today: dt.date) -> Any | None:
    """The slot value for `text`, or None when it does not fit the node's rules."""
    value: Any
    raw = text.strip()
    if len(raw) > patterns.MAX_INPUT_CHARS:
        return None  # no real answer is this long; parsers need not cope with 5,000 digits
    if node.expect == "digits":
        value = raw if from_dtmf else spoken_digits(
            raw, min_length=node.min_length, max_length=node.max_length)
    elif node.expect == "number":
        num = spoken_number(raw)
        value = None if num is None else (int(num) if num.is_integer() else num)
    elif node.expect == "date":
        day = spoken_date(raw, today)
        value = day.isoformat() if day else None
    elif node.expect == "time":
        value = spoken_time(raw)
    elif node.expect == "yes_no":
        value = yes_no(raw)
    elif node.expect == "choice":
        value = match_choice(raw, node.choices)
    else:
        value = raw.rstrip(".") or None
    if value is None:
        return None
    as_text = str(value)
    if node.min_length is not None and len(as_text) < node.min_length:
        return None
    if node.max_length is not None and len(as_text) > node.max_length:
        return None
    if node.pattern and not patterns.fullmatch(node.pattern, as_text):  # linear time (RE2)
        return None
    if node.choices and node.expect != "choice" and match_choice(as_text, node.choices) is None:
        return None
    return value
