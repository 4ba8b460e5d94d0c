"""A small, safe expression language for `branch` conditions and `set.compute`.

Own tokenizer and recursive-descent parser; nothing is ever passed to `eval`. Supports
literals (numbers, 'strings', true/false/null, [lists]), names (slots and variables, with
`.field` and `[index]` into webhook data), arithmetic `+ - * / %`, comparisons
`== != < <= > >=`, `in` / `not in`, `and` / `or` / `not`, and a fixed set of functions.
Errors carry the 1-based column of the offending character. The syntax lives in
`expr_parse`, the functions and value limits in `expr_values`; this module evaluates.

Bounded, because callers drive the values: an expression is at most `MAX_SOURCE_CHARS` long
and `MAX_DEPTH` deep (checked when parsed, so validation reports it); a computed text or
list is at most `MAX_VALUE_CHARS` long and a whole number at most `MAX_INT_BITS` wide; any
failure while evaluating (including OverflowError, MemoryError, RecursionError) is an
`EvalError`, which the runner treats like any other unusable value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from callcenter.flow.expr_parse import (
    MAX_DEPTH,
    MAX_SOURCE_CHARS,
    Attr,
    Binary,
    Call,
    Expr,
    ExprError,
    ListLit,
    Lit,
    Name,
    Token,
    Unary,
    children,
    names,
    parse,
    tokenize,
)
from callcenter.flow.expr_values import (
    FUNCTIONS,
    MAX_INT_BITS,
    MAX_VALUE_CHARS,
    _checked,
    _modulo,
    _repeat,
)


class EvalError(ExprError):
    """Evaluating an expression failed on these values (not a syntax error)."""


def evaluate(node: Expr, scope: Mapping[str, Any]) -> Any:
    """Evaluate against `scope`; unset names are null. Any failure raises EvalError."""
    try:
        return _checked(_eval(node, scope))
    except ExprError:
        raise
    except (TypeError, ValueError, ArithmeticError, LookupError, re.error) as exc:
        # ArithmeticError covers OverflowError (int('infinity' as a float)) and division by 0.
        raise EvalError(f"cannot evaluate: {exc}", node.col) from None
    except MemoryError:
        raise EvalError("cannot evaluate: the value would be too large", node.col) from None
    except RecursionError:
        raise EvalError("cannot evaluate: the value is nested too deeply", node.col) from None


def _eval(node: Expr, scope: Mapping[str, Any]) -> Any:
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Name):
        return scope.get(node.name)
    if isinstance(node, ListLit):
        return [_eval(i, scope) for i in node.items]
    if isinstance(node, Attr):
        obj, key = _eval(node.obj, scope), _eval(node.key, scope)
        if isinstance(obj, Mapping):
            return obj.get(key)
        if isinstance(obj, Sequence) and not isinstance(obj, str) and isinstance(key, int):
            return obj[key] if -len(obj) <= key < len(obj) else None
        return None
    if isinstance(node, Unary):
        value = _eval(node.operand, scope)
        return (not value) if node.op == "not" else -value
    if isinstance(node, Call):
        return _checked(FUNCTIONS[node.func](*(_eval(a, scope) for a in node.args)))
    return _checked(_binary(node, scope))


def _binary(node: Binary, scope: Mapping[str, Any]) -> Any:
    if node.op == "and":
        return _eval(node.left, scope) and _eval(node.right, scope)
    if node.op == "or":
        return _eval(node.left, scope) or _eval(node.right, scope)
    left, right = _eval(node.left, scope), _eval(node.right, scope)
    if node.op in ("in", "not in"):
        if right is None:
            found = False
        elif isinstance(right, str):
            found = str(left).lower() in right.lower()
        elif isinstance(right, Mapping):
            found = left in right
        else:
            found = any(_loose(left) == _loose(item) for item in right)
        return found if node.op == "in" else not found
    if node.op == "==":
        return _loose(left) == _loose(right)
    if node.op == "!=":
        return _loose(left) != _loose(right)
    if node.op in ("<", "<=", ">", ">=") and (left is None or right is None):
        return False  # an unset slot compares as neither bigger nor smaller
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "+": _add, "-": lambda a, b: a - b,
        "*": _repeat, "/": lambda a, b: a / b, "%": _modulo,
    }
    return ops[node.op](*_numeric(left, right))


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, str) or isinstance(b, str):
        return f"{'' if a is None else a}{'' if b is None else b}"
    return (a or 0) + (b or 0)


def _loose(value: Any) -> Any:
    # Spoken slots arrive as text: "3" == 3 should hold, and text compares case-blind.
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else value
        except ValueError:
            return value.strip().lower()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _numeric(a: Any, b: Any) -> tuple[Any, Any]:
    # Digits collected from a caller are strings; compare them as numbers when both can be.
    if isinstance(a, str) != isinstance(b, str):
        try:
            return float(a), float(b)
        except (TypeError, ValueError):
            pass
    return a, b


def compile_condition(source: str) -> Callable[[Mapping[str, Any]], bool]:
    """Parse once, return a predicate over a scope."""
    tree = parse(source)
    return lambda scope: bool(evaluate(tree, scope))


# The language's public names, wherever they are defined.
__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_SOURCE_CHARS",
    "MAX_VALUE_CHARS",
    "Attr",
    "Binary",
    "Call",
    "EvalError",
    "Expr",
    "ExprError",
    "ListLit",
    "Lit",
    "Name",
    "Token",
    "Unary",
    "children",
    "compile_condition",
    "evaluate",
    "names",
    "parse",
    "tokenize",
]
