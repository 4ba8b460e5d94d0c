"""Render a webhook URL template so that slot values stay inside the part they were put in.

`https://crm.example/orders/{{order_number}}?q={{name}}`: a caller's answer lands in a path
segment or a query value and is percent-encoded there, so `../admin?x=1` cannot reach another
path or query on the backend. A placeholder that starts the template (`{{crm_base}}/orders`)
is the admin's base URL and goes in as it is; validation refuses caller slots there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from callcenter.flow import templates

Part = Literal["base", "host", "path", "query"]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _after(part: Part, literal: str) -> Part:
    """Which part of the URL the text after `literal` is in, when it starts in `part`."""
    i = 0
    while i < len(literal):
        if part == "base" and literal.startswith("://", i):
            part, i = "host", i + 3
            continue
        if literal[i] in "?#":
            return "query"  # a fragment is encoded the same way
        if literal[i] == "/":
            part = "path"
        i += 1
    return part


def encode(value: str, part: Part) -> str:
    """`value` made safe to sit in `part` of a URL."""
    if part == "base":
        return value
    if part == "host":
        return quote(value, safe=".-")  # `evil.com/#` or `a@b` cannot move the host
    encoded = quote(value, safe="")
    if part == "path" and encoded.strip(".") == "":
        # "." and ".." are dot-segments that servers resolve even when written %2E.
        return "%2E" * len(encoded) if encoded else encoded
    return encoded


def parts(template: str) -> list[tuple[templates.Placeholder, Part]]:
    """Each placeholder in `template` with the part of the URL it sits in."""
    out: list[tuple[templates.Placeholder, Part]] = []
    part: Part = "base"
    pos = 0
    for ph in templates.placeholders(template):
        part = _after(part, template[pos:ph.offset])
        if part == "base" and ph.offset > 0:
            part = "host"  # text before the first placeholder but no scheme: still the host
        out.append((ph, part))
        if part == "base":
            part = "host"
        pos = ph.offset + len(ph.raw)
    return out


def render_url(template: str, scope: Mapping[str, Any]) -> str:
    """The URL with each placeholder's value encoded for where it sits."""
    pieces: list[str] = []
    pos = 0
    for ph, part in parts(template):
        pieces.append(template[pos:ph.offset])
        if ph.name is None:
            pieces.append(ph.raw)  # not a name: validation reports it; left as written
        else:
            pieces.append(encode(_text(templates.render_value(ph.raw, scope)), part))
        pos = ph.offset + len(ph.raw)
    pieces.append(template[pos:])
    return "".join(pieces)
