"""Dates and times as callers say them, relative to a given today (pure).

"the day after tomorrow", "next Friday", "December the fifteenth", "the eighth";
"half past two in the afternoon", "quarter to four", "ten thirty am", "midday".
A date without a year is the next one to come (booking calls look forward); a time of
1-7 without am/pm is taken as afternoon (opening hours, not 3 in the morning).
"""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9':]+", text.lower().replace("-", " "))


def _future(today: dt.date, month: int, day: int) -> dt.date | None:
    for year in (today.year, today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def _day_of_month(ws: list[str]) -> int | None:
    """'5th', '21st', 'fifth', 'twenty first', '12' (1-31)."""
    for n, w in enumerate(ws):
        m = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", w)
        if m and 1 <= int(m.group(1)) <= 31:
            return int(m.group(1))
        if w in _ORDINALS:
            tens = _NUMBERS.get(ws[n - 1], 0) if n else 0
            return (tens if tens in (20, 30) else 0) + _ORDINALS[w]
    return None


def spoken_date(text: str, today: dt.date) -> dt.date | None:
    """The date a caller means; None if there is none in what they said."""
    t = text.strip().lower().rstrip(".")
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"):
        try:
            return dt.datetime.strptime(t, fmt).date()
        except ValueError:
            pass
    if m := re.search(r"\b(\d{1,2})/(\d{1,2})\b", t):
        return _future(today, int(m.group(1)), int(m.group(2)))
    ws = _words(t)
    joined = " ".join(ws)
    if "day after tomorrow" in joined:
        return today + dt.timedelta(days=2)
    if "tomorrow" in ws:
        return today + dt.timedelta(days=1)
    if "today" in ws or "tonight" in ws:
        return today
    month = next((i + 1 for w in ws for i, m in enumerate(_MONTHS)
                  if w == m or (len(w) == 3 and w == m[:3] and w != "may")), None)
    year = next((int(w) for w in ws if w.isdigit() and 1900 < int(w) < 2200), None)
    day = _day_of_month([w for w in ws if not (w.isdigit() and int(w) > 1900)])
    if month is not None and day is not None:
        if year is not None:
            try:
                return dt.date(year, month, day)
            except ValueError:
                return None
        return _future(today, month, day)
    for i, weekday in enumerate(_WEEKDAYS):
        if weekday in ws or weekday + "s" in ws:
            # "next Friday" and "Friday" both mean the coming one: callers mostly do. But
            # "next Wednesday" said on a Tuesday is the week after: tomorrow is "tomorrow".
            ahead = (i - today.weekday()) % 7 or 7
            if ahead == 1 and "next" in ws[:ws.index(weekday) if weekday in ws else None]:
                ahead = 8
            return today + dt.timedelta(days=ahead)
    if day is not None and month is None and re.search(r"\bthe\b|\d(st|nd|rd|th)\b", t):
        # "the eighth": the next 8th of a month.
        month, year_ = today.month, today.year
        for _ in range(3):
            try:
                candidate = dt.date(year_, month, day)
                if candidate >= today:
                    return candidate
            except ValueError:
                pass
            month, year_ = (1, year_ + 1) if month == 12 else (month + 1, year_)
    return None


def _number_words_to_digits(t: str) -> str:
    # "three forty five" -> "3 45", "twenty five" -> "25": compound tens first.
    def tens(m: re.Match[str]) -> str:
        return str(_NUMBERS[m.group(1)] + _NUMBERS[m.group(2)])

    t = re.sub(r"\b(twenty|thirty|forty|fifty) (one|two|three|four|five|six|seven|eight|nine)\b",
               tens, t)
    return re.sub(r"\b(" + "|".join(_NUMBERS) + r")\b", lambda m: str(_NUMBERS[m.group(1)]), t)


def spoken_time(text: str) -> str | None:
    """'3 pm', '3:30 p.m.', '15:30', 'noon', 'half past two', 'quarter to four' -> 'HH:MM'."""
    t = text.lower().replace("a.m.", "am").replace("p.m.", "pm").replace("-", " ")
    t = re.sub(r"\b([ap])\.?m\b\.?", r"\1m", t)
    if re.search(r"\b(noon|midday)\b", t):
        return "12:00"
    if "midnight" in t:
        return "00:00"
    pm = bool(re.search(r"\d\s*pm\b|\bpm\b|afternoon|evening|tonight", t))
    am = bool(re.search(r"\d\s*am\b|\bam\b|morning", t))
    # "for in the afternoon": the recognizer's spelling of "four" before a time of day.
    t = re.sub(r"\b(for|to|too)\b(?= (in the|o'clock|am\b|pm\b))",
               lambda m: "4" if m.group(1) == "for" else "2", t)
    t = _number_words_to_digits(t)
    t = re.sub(r"\b(\d{1,2})(am|pm)\b", r"\1 \2", t)
    hour: int | None = None
    minute = 0
    if m := re.search(r"\bhalf past (\d{1,2})\b", t):
        hour, minute = int(m.group(1)), 30
    elif m := re.search(r"\b(a )?quarter past (\d{1,2})\b", t):
        hour, minute = int(m.group(2)), 15
    elif m := re.search(r"\b(a )?quarter (to|of) (\d{1,2})\b", t):
        hour, minute = int(m.group(3)) - 1, 45
    elif m := re.search(r"\b(\d{1,2})[:. ](\d{2})(?!\d)", t):
        hour, minute = int(m.group(1)), int(m.group(2))
    elif (m := re.search(r"\b(\d{3,4})\s*(am|pm)\b", t)) or (
            (am or pm) and (m := re.search(r"\b(\d{3,4})\b", t))):
        # "330 in the afternoon": the recognizer writes "three thirty" as one number.
        hour, minute = int(m.group(1)[:-2]), int(m.group(1)[-2:])
    elif m := re.search(r"\b(\d{1,2})\b(?!\s*(st|nd|rd|th|minutes|days))", t):
        hour = int(m.group(1))
    if hour is None or hour > 23 or minute > 59:
        return None
    if hour == 0 and not am:
        hour = 12 if pm else 0
    if pm and hour < 12:
        hour += 12
    elif am and hour == 12:
        hour = 0
    elif not am and not pm and 1 <= hour <= 7:
        hour += 12
    return f"{hour:02d}:{minute:02d}"
