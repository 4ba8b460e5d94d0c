"""Flow problems for people: one line each, with file, line, column, node, message and hint.

Also translates pydantic's structural errors into that form, so an admin never sees a raw
validation dump: `unknown field 'nxt' (did you mean 'next'?)` instead of `extra_forbidden`.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails


@dataclass(frozen=True, slots=True)
class FlowProblem:
    """One thing wrong with a flow file, located precisely."""

    file: str
    line: int
    column: int
    node: str | None  # None for flow-level settings
    message: str
    hint: str | None = None

    def format(self) -> str:
        """`file:line:col: node: message (hint)`, the form editors and CI understand."""
        where = self.node or "flow"
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.column}: {where}: {self.message}{hint}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the API and the admin UI."""
        return asdict(self)


class FlowValidationError(ValueError):
    """A flow file has problems; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[FlowProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(p.format() for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in flow:\n{lines}")


def did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    """'did you mean 'x'?' for the closest candidate, if any is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types inside Annotated / Optional / Union."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _unwrap(arg)]
    return [tp]


def _step(tp: Any, part: Any) -> list[Any]:
    out: list[Any] = []
    for t in _unwrap(tp):
        origin = typing.get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            if isinstance(part, str) and part in t.model_fields:
                out.append(t.model_fields[part].annotation)
        elif origin is list and isinstance(part, int):
            out.append(typing.get_args(t)[0])
        elif origin is dict:
            out.append(typing.get_args(t)[1])
    return out


def fields_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The field names allowed at `loc` inside `model` (for "did you mean")."""
    current: list[Any] = [model]
    for part in loc:
        current = [nxt for tp in current for nxt in _step(tp, part)]
    names: list[str] = []
    for tp in current:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel):
                names += [n for n in t.model_fields if n not in names]
    return names


_KINDS = {
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "list_type": "a list (lines starting with '- ')",
    "dict_type": "a mapping (key: value lines)", "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
}


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"[:60]


def translate(
    error: ErrorDetails, model: type[BaseModel], loc: Sequence[Any]
) -> tuple[str, str | None, bool]:
    """(message, hint, points_at_key) for one pydantic error at `loc` (relative to `model`)."""
    kind = error["type"]
    field = loc[-1] if loc else None
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = fields_at(model, loc[:-1])
        hint = did_you_mean(str(field), allowed) or (
            f"allowed here: {', '.join(allowed)}" if allowed else None)
        return f"unknown field {field!r}", hint, True
    if kind == "missing":
        return f"missing required field {field!r}", _field_help(model, loc), True
    if kind in _KINDS:
        return f"{field!r} must be {_KINDS[kind]}, not {_describe(error['input'])}", None, False
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        hint = did_you_mean(str(error["input"]), [e.strip() for e in expected.split(" or ")])
        return f"{field!r} must be one of: {expected}", hint, False
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if "0-9*#" in pattern:
            return f"{field!r} must be a single keypad key (0-9, * or #)", None, False
        return (f"{field!r} must use only letters, digits and underscores and not start "
                "with a digit", "e.g. order_number", False)
    if kind in ("too_short", "too_long"):
        return f"{field!r} {error['msg'].lower().replace('list should', 'must')}", None, False
    message = error["msg"].replace("Input should be", "must be").replace("Value error, ", "")
    return f"{field!r}: {message}", None, False


def _field_help(model: type[BaseModel], loc: Sequence[Any]) -> str | None:
    current: list[Any] = [model]
    for part in loc[:-1]:
        current = [nxt for tp in current for nxt in _step(tp, part)]
    for tp in current:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel) and loc[-1] in t.model_fields:
                desc = t.model_fields[str(loc[-1])].description
                if desc:
                    return desc
    return None
