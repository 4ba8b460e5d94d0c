"""The calls list's query parameters, parsed once for the page and the API alike.

Parameters arrive as text (an empty form field is ""), so they are parsed here, leniently
for what browsers send (`2026-05-01T09:30` from a datetime-local field) and strictly for
the rest; each problem is reported against its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from callcenter.models import CallStatus, Disposition
from callcenter.records.calls import CallFilters

FIELDS = ("since", "until", "dialed", "caller", "status", "disposition", "escalated", "flow",
          "version")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    filters: CallFilters
    page: int
    per_page: int
    values: dict[str, str]  # what was typed, to put back in the form
    errors: dict[str, str]


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    # Times without an offset are UTC, as the page says next to the fields.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def parse_call_query(params: QueryParams, *, default_per_page: int = 50) -> ParsedQuery:
    values = {name: params.get(name, "").strip()[:100] for name in FIELDS}
    errors: dict[str, str] = {}
    parsed: dict[str, object] = {}
    for name in ("since", "until"):
        if values[name]:
            try:
                parsed[name] = _when(values[name])
            except ValueError:
                errors[name] = "use a date and time like 2026-05-01T09:30 (UTC)"
    for name in ("dialed", "caller", "flow"):
        if values[name]:
            parsed[name] = values[name]
    if values["status"]:
        if values["status"] in set(CallStatus):
            parsed["status"] = values["status"]
        else:
            errors["status"] = f"one of {', '.join(CallStatus)}"
    if values["disposition"]:
        if values["disposition"] in set(Disposition):
            parsed["disposition"] = values["disposition"]
        else:
            errors["disposition"] = f"one of {', '.join(Disposition)}"
    if values["escalated"]:
        choice = {"yes": True, "true": True, "no": False, "false": False}.get(
            values["escalated"].lower())
        if choice is None:
            errors["escalated"] = "yes or no"
        else:
            parsed["escalated"] = choice
    if values["version"]:
        if not values["version"].isdigit():
            errors["version"] = "a version number, like 3"
        elif not values["flow"]:
            errors["version"] = "choose the flow too"
        else:
            parsed["version"] = int(values["version"])
    page = _int(params.get("page"), 1)
    per_page = _int(params.get("per_page"), default_per_page)
    return ParsedQuery(CallFilters(**parsed), page, per_page, values, errors)  # type: ignore[arg-type]


def _int(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and int(text) > 0 else default
