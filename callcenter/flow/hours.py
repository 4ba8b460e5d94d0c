"""Business hours: parse an `hours` node's schedule and decide open/closed for an instant.

Schedule keys are days (`mon`, `mon-fri`, `sat,sun`, `weekdays`, `weekends`, `daily`);
values are ranges (`09:00-17:00`, `09:00-12:00, 13:00-17:00`), `24h` or `closed`.
Pure: the caller passes the instant; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_ALIASES = {
    "weekdays": list(range(5)), "weekends": [5, 6], "daily": list(range(7)),
    "everyday": list(range(7)), "monday": [0], "tuesday": [1], "wednesday": [2],
    "thursday": [3], "friday": [4], "saturday": [5], "sunday": [6],
}
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class HoursError(ValueError):
    """A schedule entry that cannot be understood; the message says how to write it."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Opening ranges per weekday (0 = Monday) in minutes since local midnight."""

    zone: ZoneInfo
    ranges: dict[int, list[tuple[int, int]]]
    holidays: frozenset[dt.date]

    def is_open(self, instant: dt.datetime) -> bool:
        """True when `instant` (timezone-aware; naive means UTC) falls in opening hours."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=dt.UTC)
        local = instant.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.ranges.get(local.weekday(), []))


def parse_zone(name: str) -> ZoneInfo:
    """An IANA timezone, or HoursError with a hint."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(str(name), sorted(available_timezones()), n=1)
        hint = f"did you mean {close[0]!r}?" if close else (
            "use an IANA name such as America/New_York or UTC")
        raise HoursError(f"unknown timezone {name!r}; {hint}") from None


def parse_days(key: str) -> list[int]:
    """`mon-fri`, `sat,sun`, `weekdays`... -> weekday numbers."""
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        if part in _ALIASES:
            days += _ALIASES[part]
            continue
        ends = part.split("-")
        if len(ends) == 1 and part[:3] in DAYS and part in (part[:3], _full(part[:3])):
            days.append(DAYS.index(part[:3]))
        elif len(ends) == 2 and all(e[:3] in DAYS for e in ends):
            a, b = DAYS.index(ends[0][:3]), DAYS.index(ends[1][:3])
            days += list(range(a, b + 1)) if a <= b else list(range(a, 7)) + list(range(b + 1))
        else:
            raise HoursError(
                f"cannot read days {key!r}; write e.g. mon-fri, sat, sun, weekdays or daily"
            )
    return days


def _full(abbr: str) -> str:
    return {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
            "fri": "friday", "sat": "saturday", "sun": "sunday"}[abbr]


def parse_ranges(value: str) -> list[tuple[int, int]]:
    """`09:00-17:00, 18:00-20:00` / `24h` / `closed` -> minute ranges."""
    text = str(value).strip().lower()
    if text == "closed":
        return []
    if text in ("24h", "24/7", "all day"):
        return [(0, 24 * 60)]
    out: list[tuple[int, int]] = []
    for part in text.split(","):
        m = _RANGE.match(part.strip())
        if m is None:
            raise HoursError(
                f"cannot read hours {value!r}; write HH:MM-HH:MM (e.g. 09:00-17:00), 24h or closed"
            )
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise HoursError(f"invalid time in {part.strip()!r}: hours 00-24, minutes 00-59")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise HoursError(
                f"{part.strip()!r} ends before it starts; split overnight hours at midnight"
            )
        out.append((start, end))
    return out


def parse_holiday(text: str) -> dt.date:
    """A YYYY-MM-DD date."""
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise HoursError(f"holiday {text!r} is not a date; write YYYY-MM-DD") from None


def build_schedule(timezone: str, schedule: dict[str, str], holidays: list[str]) -> Schedule:
    """Parse a whole `hours` node; raises the first HoursError (validation reports each)."""
    ranges: dict[int, list[tuple[int, int]]] = {}
    for key, value in schedule.items():
        # Later entries override earlier ones, so `mon-fri: ...` then `wed: closed` works.
        day_ranges = parse_ranges(value)
        for day in parse_days(key):
            ranges[day] = day_ranges
    return Schedule(parse_zone(timezone), ranges, frozenset(parse_holiday(h) for h in holidays))
