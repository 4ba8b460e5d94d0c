"""Turn what a caller said or keyed into a slot value, or say it does not fit.

Speech arrives as recognizer text ("one two three", "1, 2, 3.", "next Tuesday", "yeah"),
keypad input as digits. Each `expect` type has a parser; `pattern`, `min_length`,
`max_length` and `choices` then check the normalized value. Pure: "today" is passed in.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from callcenter.flow.nodes import AskNode, Choice

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "to": "2", "too": "2",
    "three": "3", "four": "4", "for": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9",
}
_SMALL = {w: int(d) for w, d in _DIGIT_WORDS.items() if w not in ("o", "oh", "to", "too", "for")}
_SMALL.update({
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
})
_YES = {"yes", "yeah", "yep", "yup", "sure", "correct", "right", "affirmative", "ok", "okay",
        "absolutely", "definitely", "true", "that's right", "of course"}
_NO = {"no", "nope", "nah", "negative", "incorrect", "wrong", "false", "not really"}
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_ORDINAL = re.compile(r"^(\d{1,2})(st|nd|rd|th)$")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (keeps digits, apostrophes and ':')."""
    return re.findall(r"[a-z0-9':]+", text.lower().replace("-", " "))


def spoken_digits(text: str) -> str | None:
    """'one two three', '1, 2, 3', 'double five' -> digits; None if other words are mixed in."""
    out: list[str] = []
    repeat = 1
    for w in words(text):
        if w in ("double", "triple"):
            repeat = 2 if w == "double" else 3
            continue
        if w.isdigit():
            out.append(w * repeat if len(w) == 1 else w)
        elif w in _DIGIT_WORDS:
            out.append(_DIGIT_WORDS[w] * repeat)
        elif w in ("my", "it's", "its", "is", "the", "number", "uh", "um", "and"):
            continue
        else:
            return None
        repeat = 1
    return "".join(out) or None


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
    """Yes/no from speech or keypad (1 = yes, 2 = no)."""
    t = text.strip().lower().rstrip(".!")
    if t in ("1",):
        return True
    if t in ("2",):
        return False
    ws = set(words(t))
    yes, no = bool(ws & _YES) or t in _YES, bool(ws & _NO) or t in _NO
    return yes if yes != no else None


def spoken_date(text: str, today: dt.date) -> dt.date | None:
    """ISO dates, MM/DD[/YYYY], 'March 5th', '5 March', 'today', 'tomorrow', 'next friday'."""
    t = text.strip().lower().rstrip(".")
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%m%d%Y"):
        try:
            return dt.datetime.strptime(t, fmt).date()
        except ValueError:
            pass
    if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})", t):
        return _future(today, int(m.group(1)), int(m.group(2)))
    ws = words(t)
    if "today" in ws:
        return today
    if "tomorrow" in ws:
        return today + dt.timedelta(days=1)
    for i, weekday in enumerate(_WEEKDAYS):
        if weekday in ws:
            ahead = (i - today.weekday()) % 7 or 7
            return today + dt.timedelta(days=ahead)
    month = next((i + 1 for i, m in enumerate(_MONTHS) for w in ws if w in (m, m[:3])), None)
    nums: list[int] = []
    for w in ws:
        if w.isdigit():
            nums.append(int(w))
        elif ordinal := _ORDINAL.match(w):
            nums.append(int(ordinal.group(1)))
    day_num = _ordinal_words(ws)
    if month is None:
        return None
    day = next((n for n in nums if 1 <= n <= 31), day_num)
    year = next((n for n in nums if n > 1900), None)
    if day is None:
        return None
    if year is not None:
        try:
            return dt.date(year, month, day)
        except ValueError:
            return None
    return _future(today, month, day)


_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}


def _ordinal_words(ws: list[str]) -> int | None:
    total = 0
    for w in ws:
        if w in ("twenty", "thirty"):
            total += _SMALL[w]
        elif w in _ORDINAL_WORDS:
            return total + _ORDINAL_WORDS[w]
    return None


def _future(today: dt.date, month: int, day: int) -> dt.date | None:
    # A date without a year means the next one to come (booking calls look forward).
    for year in (today.year, today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def spoken_time(text: str) -> str | None:
    """'3 pm', '3:30 p.m.', '15:30', 'noon', 'three thirty pm' -> 'HH:MM'."""
    t = text.lower().replace(".", "").strip()
    if "noon" in t:
        return "12:00"
    if "midnight" in t:
        return "00:00"
    pm, am = bool(re.search(r"\bpm\b|afternoon|evening", t)), bool(re.search(r"\bam\b|morning", t))
    t = re.sub(r"\b(am|pm|in the|afternoon|evening|morning|o'clock|at)\b", " ", t)
    if m := re.fullmatch(r"\s*(\d{1,2})(?::(\d{2}))?\s*", t):
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
    else:
        ws = words(t)
        nums = [spoken_number(w) for w in ws]
        if not ws or any(n is None for n in nums):
            return None
        hour = int(nums[0] or 0)
        minute = int(sum(n or 0 for n in nums[1:]))
    if pm and hour < 12:
        hour += 12
    if am and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


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
    if node.expect == "digits":
        value = raw if from_dtmf else spoken_digits(raw)
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
    if node.pattern and re.fullmatch(node.pattern, as_text) is None:
        return None
    if node.choices and node.expect != "choice" and match_choice(as_text, node.choices) is None:
        return None
    return value
