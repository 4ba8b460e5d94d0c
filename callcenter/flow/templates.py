"""`{{slot}}` templates in spoken and sent text.

Deliberately tiny: a placeholder is a name with optional `.field` parts (webhook data), e.g.
`{{order_number}}` or `{{order.eta}}`. Unset names render as an empty string, so a caller never
hears "None". The one piece of logic is an optional part, `[[...]]`: it is kept (without the
brackets) only when every placeholder inside it has a value, so a text says only what is known:
`Caller needs a person.[[ Topic: {{topic}}.]]` has no dangling "Topic: ." when no topic was
heard. Anything more belongs in a `branch` node.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.flow.speakable import say_money, speakable

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_PIECE = re.compile(r"\[\[(.*?)\]\]|\{\{(.*?)\}\}", re.DOTALL)
_PATH = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+)*)\s*$")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One `{{...}}` in a template; `name` is None when the inside is not a valid name."""

    raw: str
    name: str | None
    path: tuple[str, ...]
    offset: int  # 0-based position of "{{" in the template


def placeholders(template: str) -> Iterator[Placeholder]:
    """Every placeholder in `template`, valid or not, in order."""
    for m in _PLACEHOLDER.finditer(template):
        inner = _PATH.match(m.group(1))
        if inner is None:
            yield Placeholder(m.group(0), None, (), m.start())
        else:
            parts = tuple(p for p in inner.group(2).split(".") if p)
            yield Placeholder(m.group(0), inner.group(1), parts, m.start())


def unclosed(template: str) -> int | None:
    """Offset of a `{{` that is never closed, if any."""
    pos = template.rfind("{{")
    if pos != -1 and "}}" not in template[pos:]:
        return pos
    return None


def unclosed_optional(template: str) -> int | None:
    """Offset of a `[[` (optional part) that is never closed, if any."""
    pos = template.rfind("[[")
    if pos != -1 and "]]" not in template[pos:]:
        return pos
    return None


def _lookup(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(template: str, scope: Mapping[str, Any], *, spoken: bool = False) -> str:
    """Fill in the placeholders from `scope`.

    `spoken=True` is for text the caller hears: string values are said as a person would
    (dates, times, phone and order numbers, money; see `speakable`). Webhook bodies, URLs
    and transfer targets keep the raw values.
    """
    today = _today(scope) if spoken else None

    def value_of(raw: str, inner: str) -> str:
        name = _PATH.match(inner)
        if name is None:
            return raw
        path = tuple(p for p in name.group(2).split(".") if p)
        value = _lookup(scope.get(name.group(1)), path)
        if spoken and isinstance(value, str):
            return speakable(value, today)
        return _text(value)

    def fill(m: re.Match[str]) -> str:
        return value_of(m.group(0), m.group(1))

    def piece(m: re.Match[str]) -> str:
        optional = m.group(1)
        if optional is None:
            return value_of(m.group(0), m.group(2))
        if any(fill(p) == "" for p in _PLACEHOLDER.finditer(optional)):
            return ""  # something in it is not known: say none of it
        return _PLACEHOLDER.sub(fill, optional)

    # One pass over the template, so a filled-in value is never read as a template itself.
    text = _PIECE.sub(piece, template)
    return say_money(text) if spoken else text


def _today(scope: Mapping[str, Any]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(scope.get("today")))
    except ValueError:
        return None


def render_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render templates inside strings, lists and dicts (webhook bodies, `set` values)."""
    if isinstance(value, str):
        # A value that is exactly one placeholder keeps its type (a dict stays a dict).
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole and (inner := _PATH.match(whole.group(1))):
            path = tuple(p for p in inner.group(2).split(".") if p)
            return _lookup(scope.get(inner.group(1)), path)
        return render(value, scope)
    if isinstance(value, list):
        return [render_value(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, scope) for k, v in value.items()}
    return value
