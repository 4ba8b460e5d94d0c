"""PHONE_SUPERVISORS: who the phone desk rings, read from one environment variable.

A comma list of `id=+E164` entries, each optionally followed by `@skill|skill` (the skills
a queue requires, e.g. `billing`: a queue with no skills takes any supervisor):

    PHONE_SUPERVISORS=ana=+14155550101,bob=+14155550102@billing|spanish

One variable rather than a file: a deployment sets it like every other setting, and the
list is short (people on call tonight), so a file would only add a path that can be wrong.
"""

from __future__ import annotations

import re

from callcenter.escalation.phone_desk import PhoneSupervisor

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
EXAMPLE = "ana=+14155550101,bob=+14155550102@billing|spanish"


class PhoneSupervisorsError(ValueError):
    """PHONE_SUPERVISORS is malformed; the message says which entry and how to write it."""


def parse_phone_supervisors(value: str) -> tuple[PhoneSupervisor, ...]:
    """Parse the variable; an empty value is no phone supervisors."""
    found: list[PhoneSupervisor] = []
    for raw in value.split(","):
        entry = raw.strip()
        if entry:
            found.append(_entry(entry))
    ids = [s.supervisor_id for s in found]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise PhoneSupervisorsError(
            f"{', '.join(twice)} listed twice: give each supervisor one entry (e.g. {EXAMPLE})")
    return tuple(found)


def _entry(entry: str) -> PhoneSupervisor:
    # The phone number is masked in errors: a settings error may end up in a log.
    name, sep, rest = entry.partition("=")
    name = name.strip()
    if not sep or not _NAME.match(name):
        raise PhoneSupervisorsError(
            f"entry {_masked(entry)!r} needs the form id=+E164[@skill|skill] with an id of "
            f"letters, digits, '.', '_' or '-' (e.g. {EXAMPLE})")
    phone, _, skills_text = rest.partition("@")
    phone = phone.strip()
    if not _E164.match(phone):
        raise PhoneSupervisorsError(
            f"supervisor {name}: {_masked(phone)!r} is not an E.164 number; write it like "
            "+14155550101 (plus, country code, number, no spaces)")
    skills = [s.strip() for s in skills_text.split("|")] if skills_text else []
    if any(not s for s in skills):
        raise PhoneSupervisorsError(
            f"supervisor {name}: an empty skill after '@'; separate skills with '|' "
            "(e.g. @billing|spanish)")
    return PhoneSupervisor(f"phone-{name}", phone, frozenset(skills), name=name)


def _masked(text: str) -> str:
    """Digits past the first four hidden: enough to find the entry, not to dial it."""
    seen = 0
    out = []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= 4 else "*")
        else:
            out.append(ch)
    return "".join(out)
