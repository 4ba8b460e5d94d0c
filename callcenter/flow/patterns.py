"""Regular expressions that caller input is matched against: linear time, bounded input.

An `ask` node's `pattern` and the `matches()` condition function run on caller text inside a
worker's event loop, next to every other call in the process. Python's `re` backtracks: a
pattern such as `(\\w+\\s?)+` takes minutes on a 60-character answer and stalls every call
in the process. So matching runs on RE2 (google-re2), whose time is linear in the input, and
the input is cut at `MAX_INPUT_CHARS`. Validation (`problem`) refuses what RE2 cannot run
(look-arounds, back-references) and nested repeats, which are slow in every other engine an
admin might copy the pattern to and are nearly always a mistake.
"""

from __future__ import annotations

import functools
import re
from re import _parser  # type: ignore[attr-defined]  # stdlib's own regex parser, read-only
from typing import Any

import re2  # type: ignore[import-untyped]

# Longer than any answer a caller speaks or keys in one turn; longer input does not match.
MAX_INPUT_CHARS = 2_000
# RE2 memory per compiled pattern: bounds what a pathological `x{1000}{1000}` can take.
_MAX_MEM = 4 << 20

_HINT_NESTED = ("a repeat inside a repeat, like (\\w+\\s?)+ or (a+)*, can take minutes on "
                "a long answer: repeat the group once, e.g. [\\w\\s]+ or \\w+(\\s\\w+)*")
_HINT_RE2 = ("look-arounds (?=...) (?!...) (?<=...) and back-references \\1 are not "
             "supported; use plain groups, classes and repeats")


class PatternError(ValueError):
    """A pattern that cannot be run safely; `column` is 1-based within the pattern or None."""

    def __init__(self, message: str, hint: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.column = column


def _options() -> Any:
    options = re2.Options()
    options.max_mem = _MAX_MEM
    options.log_errors = False  # RE2 would print to stderr; we raise PatternError instead
    return options


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(f"pattern cannot be run safely: {reason}", _HINT_RE2) from None


def _nested(items: Any, inside_repeat: bool) -> bool:
    """Is a variable-width repeat (`+`, `*`, `{1,9}`) inside another repeat?"""
    for op, av in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = av
            varies = high is _parser.MAXREPEAT or high > low
            # `(\d{3}-)+` is fine (fixed width inside); `(\w+\s?)+` backtracks exponentially.
            if (inside_repeat and varies) or _nested(body, inside_repeat or high != 1):
                return True
        elif name == "SUBPATTERN" or name in ("ASSERT", "ASSERT_NOT"):
            if _nested(av[-1], inside_repeat):
                return True
        elif name == "BRANCH":
            if any(_nested(branch, inside_repeat) for branch in av[1]):
                return True
        elif name == "ATOMIC_GROUP" and _nested(av, inside_repeat):
            return True
    return False


def problem(pattern: str) -> PatternError | None:
    """Why `pattern` must not be used for caller input, or None when it is fine."""
    try:
        parsed = _parser.parse(pattern)
    except re.error as exc:
        column = None if exc.pos is None else exc.pos + 1
        return PatternError(f"invalid regular expression: {exc.msg}",
                            "test it at regex101.com; quote it in YAML", column)
    except (RecursionError, OverflowError) as exc:
        return PatternError(f"regular expression is too complex: {type(exc).__name__}",
                            "simplify the pattern")
    if _nests(parsed):
        return PatternError("pattern nests a repeat inside a repeat", _HINT_NESTED)
    try:
        _compiled(pattern)
    except PatternError as exc:
        return exc
    return None


def _nests(parsed: Any) -> bool:
    try:
        return _nested(parsed, False)
    except RecursionError:
        return True


def fullmatch(pattern: str, text: str) -> bool:
    """Does all of `text` match? Unrunnable patterns and over-long text do not match."""
    if len(text) > MAX_INPUT_CHARS:
        return False
    try:
        return _compiled(pattern).fullmatch(text) is not None
    except PatternError:
        return False  # validation refuses these; a flow stored before that never matches


def search(pattern: str, text: str) -> bool:
    """Does `pattern` occur in `text`? Raises PatternError for a pattern RE2 cannot run."""
    return _compiled(pattern).search(text[:MAX_INPUT_CHARS]) is not None
