"""The expression language's functions and the size limits on the values it computes.

Callers drive the values, so every result is bounded (see `callcenter.flow.expr`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.flow import patterns

MAX_VALUE_CHARS = 10_000
MAX_INT_BITS = 256


class _TooBig(ValueError):
    """A computed value passed one of the size limits."""


def _matches(pattern: object, text: object) -> bool:
    try:
        return patterns.search(str(pattern), "" if text is None else str(text))
    except patterns.PatternError as exc:
        raise _TooBig(exc.message) from None


def _round(x: Any, digits: Any = None) -> Any:
    if digits is not None and abs(int(digits)) > 100:
        raise _TooBig("round() to more than 100 digits")
    return round(x) if digits is None else round(x, int(digits))


def _checked(value: Any) -> Any:
    """`value`, or _TooBig when it passes a size limit (a loop of `set` can double it)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _TooBig(f"number is too large (over {MAX_INT_BITS} bits)")
    if isinstance(value, str | list | dict) and len(value) > MAX_VALUE_CHARS:
        raise _TooBig(f"value is too long (over {MAX_VALUE_CHARS} items or characters)")
    return value


def _repeat(a: Any, b: Any) -> Any:
    # 'x' * 10**9 would take all memory before any limit could look at the result.
    for seq, n in ((a, b), (b, a)):
        counted = isinstance(n, int) and not isinstance(n, bool)
        if isinstance(seq, str | list) and counted and len(seq) * max(n, 0) > MAX_VALUE_CHARS:
            raise _TooBig(f"repeat would be longer than {MAX_VALUE_CHARS}")
    return a * b


def _modulo(a: Any, b: Any) -> Any:
    # On text, Python's % is printf formatting ('%09999999d' % 1): numbers only here.
    if isinstance(a, str | bytes):
        raise TypeError("% works on numbers, not text")
    return a % b


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": lambda x: 0 if x is None else len(x),
    "lower": lambda x: "" if x is None else str(x).lower(),
    "upper": lambda x: "" if x is None else str(x).upper(),
    "str": lambda x: "" if x is None else str(x),
    "int": int,
    "float": float,
    "abs": abs,
    "min": min,
    "max": max,
    "round": _round,
    "empty": lambda x: x is None or x == "" or x == [] or x == {},
    "startswith": lambda s, p: str(s or "").startswith(str(p)),
    "endswith": lambda s, p: str(s or "").endswith(str(p)),
    "contains": lambda s, p: str(p).lower() in str(s or "").lower(),
    "matches": lambda s, p: _matches(p, s),
}
