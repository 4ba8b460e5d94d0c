"""Values as a person would say them, for text the caller hears (not for webhooks).

A slot holds "2026-12-01", "16:00" or "5551234567"; read out raw, TTS says "two thousand
twenty six dash twelve..." or "five billion...". Each value is recognised by its shape:
ISO dates -> "Tuesday, December first"; HH:MM -> "4 PM" / "4:30 PM"; ten- or eleven-digit
phone numbers -> "555 123 4567" in groups; other digit strings of 4-9 digits (order and
account numbers) -> digit by digit; amounts with a currency sign -> "30 dollars and 50 cents".
"""

from __future__ import annotations

import datetime as dt
import re

_ORDINALS = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
             "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth",
             "twenty first", "twenty second", "twenty third", "twenty fourth", "twenty fifth",
             "twenty sixth", "twenty seventh", "twenty eighth", "twenty ninth", "thirtieth",
             "thirty first"]
_DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_MONEY = re.compile(r"\$(\d{1,3}(?:,\d{3})*|\d+)(?:\.(\d{2}))?\b")


def say_date(day: dt.date, today: dt.date | None = None) -> str:
    """'Tuesday, December first' (the year only when it is not this year)."""
    text = f"{day.strftime('%A')}, {day.strftime('%B')} {_ORDINALS[day.day]}"
    if today is not None and day.year != today.year:
        text += f", {day.year}"
    return text


def say_time(hour: int, minute: int) -> str:
    """'1 PM', '4:30 PM', 'noon', 'midnight'."""
    if (hour, minute) == (12, 0):
        return "noon"
    if (hour, minute) == (0, 0):
        return "midnight"
    suffix = "AM" if hour < 12 else "PM"
    h = hour % 12 or 12
    return f"{h} {suffix}" if minute == 0 else f"{h}:{minute:02d} {suffix}"


def say_digits(digits: str) -> str:
    """Digit by digit, as words, so TTS cannot read it as one big number."""
    return " ".join(_DIGIT_NAMES[int(d)] for d in digits)


def say_phone(digits: str) -> str:
    """'5551234567' -> '555, 123, 4567' read in groups (a leading 1 said on its own)."""
    if len(digits) == 11 and digits.startswith("1"):
        return "1, " + say_phone(digits[1:])
    groups = [digits[:3], digits[3:6], digits[6:]]
    return ", ".join(say_digits(g) for g in groups)


def say_digit_groups(digits: str) -> str:
    """'482913' -> 'four eight two, nine one three': as a person reads a number back, in
    threes with a pause between (a last group of four rather than one digit left alone;
    phone numbers as `say_phone`)."""
    if len(digits) in (10, 11):
        return say_phone(digits)
    sizes = [3] * (len(digits) // 3)
    rest = len(digits) % 3
    if rest == 1 and sizes:
        sizes[-1] = 4
    elif rest:
        sizes.append(rest)
    groups, at = [], 0
    for size in sizes:
        groups.append(digits[at:at + size])
        at += size
    return ", ".join(say_digits(g) for g in groups)


def say_money(text: str) -> str:
    """'$30.50' -> '30 dollars and 50 cents' in running text."""

    def spell(m: re.Match[str]) -> str:
        dollars = int(m.group(1).replace(",", ""))
        cents = int(m.group(2) or 0)
        out = f"{dollars} dollar{'s' if dollars != 1 else ''}"
        if cents:
            out += f" and {cents} cent{'s' if cents != 1 else ''}"
        return out

    return _MONEY.sub(spell, text)


def speakable(value: str, today: dt.date | None = None) -> str:
    """One rendered value as it should be heard."""
    v = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        try:
            return say_date(dt.date.fromisoformat(v), today)
        except ValueError:
            return value
    if m := re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", v):
        return say_time(int(m.group(1)), int(m.group(2)))
    compact = re.sub(r"[\s().-]", "", v)
    if re.fullmatch(r"\+?1?\d{10}", compact) and len(compact.lstrip("+")) in (10, 11) and (
            not v.isdigit() or len(v) >= 10):
        return say_phone(compact.lstrip("+"))
    if re.fullmatch(r"\d{4,9}", v):
        return say_digits(v)
    return say_money(value)
