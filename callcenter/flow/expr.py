"""A small, safe expression language for `branch` conditions and `set.compute`.

Own tokenizer and recursive-descent parser; nothing is ever passed to `eval`. Supports
literals (numbers, 'strings', true/false/null, [lists]), names (slots and variables, with
`.field` and `[index]` into webhook data), arithmetic `+ - * / %`, comparisons
`== != < <= > >=`, `in` / `not in`, `and` / `or` / `not`, and a fixed set of functions.
Errors carry the 1-based column of the offending character.

Bounded, because callers drive the values: an expression is at most `MAX_SOURCE_CHARS` long
and `MAX_DEPTH` deep (checked when parsed, so validation reports it); a computed text or
list is at most `MAX_VALUE_CHARS` long and a whole number at most `MAX_INT_BITS` wide; any
failure while evaluating (including OverflowError, MemoryError, RecursionError) is an
`EvalError`, which the runner treats like any other unusable value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.flow import patterns

MAX_SOURCE_CHARS = 2_000
MAX_DEPTH = 40  # nesting of brackets, `not`/`-` and operator chains
MAX_VALUE_CHARS = 10_000
MAX_INT_BITS = 256


class ExprError(ValueError):
    """A syntax or evaluation error; `column` is 1-based within the expression."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column


class EvalError(ExprError):
    """Evaluating an expression failed on these values (not a syntax error)."""


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

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<num>\d+(?:\.\d+)?)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|%|\(|\)|\[|\]|,|\.)""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "none"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num, str, name, kw, op, end
    text: str
    col: int


def tokenize(source: str) -> list[Token]:
    """Split `source` into tokens; raises ExprError at the first unknown character."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            ch = source[pos]
            if ch in "'\"":
                raise ExprError("unterminated string: add the closing quote", pos + 1)
            hint = " (use 'single quotes' for text)" if ch in "`" else ""
            if ch == "=":
                hint = " (use == to compare)"
            elif ch in "&|!":
                hint = " (use and / or / not)"
            raise ExprError(f"unexpected character {ch!r}{hint}", pos + 1)
        kind = m.lastgroup or "ws"
        text = m.group()
        if kind == "name" and text.lower() in _KEYWORDS:
            kind, text = "kw", text.lower()
        if kind != "ws":
            tokens.append(Token(kind, text, pos + 1))
        pos = m.end()
    tokens.append(Token("end", "", len(source) + 1))
    return tokens


# ------------------------------------------------------------------ syntax tree


@dataclass(frozen=True, slots=True)
class Lit:
    value: Any
    col: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    col: int


@dataclass(frozen=True, slots=True)
class Attr:
    obj: Expr
    key: Expr
    col: int


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    col: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Expr
    col: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    col: int


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    col: int


Expr = Lit | Name | Attr | ListLit | Unary | Binary | Call

_COMPARE = {"==", "!=", "<", "<=", ">", ">=", "in", "not in"}


class _Parser:
    def __init__(self, source: str) -> None:
        if len(source) > MAX_SOURCE_CHARS:
            raise ExprError(f"expression is longer than {MAX_SOURCE_CHARS} characters; "
                            "split it across set and branch nodes", MAX_SOURCE_CHARS + 1)
        self.tokens = tokenize(source)
        self.i = 0
        self.depth = 0

    def deeper(self, col: int) -> None:
        # Each level is several Python frames: stop long before RecursionError.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression is nested more than {MAX_DEPTH} levels deep; "
                            "split it across set and branch nodes", col)

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def expect(self, text: str) -> Token:
        if self.tok.text != text or self.tok.kind not in ("op", "kw"):
            found = self.tok.text or "end of expression"
            raise ExprError(f"expected {text!r} but found {found!r}", self.tok.col)
        return self.take()

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise ExprError("empty expression", 1)
        node = self.or_()
        if self.tok.kind != "end":
            raise ExprError(f"unexpected {self.tok.text!r}", self.tok.col)
        return node

    def or_(self) -> Expr:
        node = self.and_()
        while self.tok.kind == "kw" and self.tok.text == "or":
            t = self.take()
            node = Binary("or", node, self.and_(), t.col)
        return node

    def and_(self) -> Expr:
        node = self.not_()
        while self.tok.kind == "kw" and self.tok.text == "and":
            t = self.take()
            node = Binary("and", node, self.not_(), t.col)
        return node

    def not_(self) -> Expr:
        if self.tok.kind == "kw" and self.tok.text == "not":
            t = self.take()
            self.deeper(t.col)
            node: Expr = Unary("not", self.not_(), t.col)
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Expr:
        node = self.additive()
        t = self.tok
        op: str | None = None
        if (t.kind == "op" and t.text in _COMPARE) or (t.kind == "kw" and t.text == "in"):
            op = self.take().text
        elif t.kind == "kw" and t.text == "not" and self.tokens[self.i + 1].text == "in":
            self.i += 2
            op = "not in"
        if op is None:
            return node
        node = Binary(op, node, self.additive(), t.col)
        nxt = self.tok
        if (nxt.kind == "op" and nxt.text in _COMPARE) or nxt.text == "in":
            raise ExprError("chained comparisons are not supported; join them with 'and'", nxt.col)
        return node

    def additive(self) -> Expr:
        node = self.term()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            t = self.take()
            node = Binary(t.text, node, self.term(), t.col)
        return node

    def term(self) -> Expr:
        node = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/", "%"):
            t = self.take()
            node = Binary(t.text, node, self.unary(), t.col)
        return node

    def unary(self) -> Expr:
        if self.tok.kind == "op" and self.tok.text == "-":
            t = self.take()
            self.deeper(t.col)
            node: Expr = Unary("-", self.unary(), t.col)
            self.depth -= 1
            return node
        return self.postfix(self.primary())

    def postfix(self, node: Expr) -> Expr:
        while self.tok.kind == "op" and self.tok.text in (".", "["):
            t = self.take()
            if t.text == ".":
                if self.tok.kind != "name":
                    raise ExprError("expected a field name after '.'", self.tok.col)
                key = self.take()
                node = Attr(node, Lit(key.text, key.col), t.col)
            else:
                self.deeper(t.col)
                index = self.or_()
                self.expect("]")
                self.depth -= 1
                node = Attr(node, index, t.col)
        return node

    def primary(self) -> Expr:
        t = self.take()
        if t.kind == "num":
            return Lit(float(t.text) if "." in t.text else int(t.text), t.col)
        if t.kind == "str":
            return Lit(_unquote(t.text), t.col)
        if t.kind == "kw" and t.text in ("true", "false", "null", "none"):
            return Lit({"true": True, "false": False}.get(t.text), t.col)
        if t.kind == "name":
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(t)
            return Name(t.text, t.col)
        if t.kind == "op" and t.text == "(":
            self.deeper(t.col)
            node = self.or_()
            self.expect(")")
            self.depth -= 1
            return node
        if t.kind == "op" and t.text == "[":
            self.deeper(t.col)
            items: list[Expr] = []
            while not (self.tok.kind == "op" and self.tok.text == "]"):
                items.append(self.or_())
                if self.tok.text != ",":
                    break
                self.take()
            self.expect("]")
            self.depth -= 1
            return ListLit(tuple(items), t.col)
        found = t.text or "end of expression"
        raise ExprError(f"expected a value but found {found!r}", t.col)

    def call(self, name: Token) -> Expr:
        if name.text not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExprError(f"unknown function {name.text!r} (known: {known})", name.col)
        self.expect("(")
        self.deeper(name.col)
        args: list[Expr] = []
        while not (self.tok.kind == "op" and self.tok.text == ")"):
            args.append(self.or_())
            if self.tok.text != ",":
                break
            self.take()
        self.expect(")")
        self.depth -= 1
        return Call(name.text, tuple(args), name.col)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse(source: str) -> Expr:
    """Parse an expression; raises ExprError with the column of the problem."""
    tree = _Parser(source).parse()
    # `a + a + ... + a` is a loop in the parser but a deep tree for the evaluator.
    too_deep = _deeper_than(tree, MAX_DEPTH * 2)
    if too_deep is not None:
        raise ExprError(f"expression chains more than {MAX_DEPTH * 2} operators; split it "
                        "across set and branch nodes", too_deep)
    return tree


def children(node: Expr) -> tuple[Expr, ...]:
    """The sub-expressions of `node`."""
    if isinstance(node, Attr):
        return (node.obj, node.key)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, ListLit):
        return node.items
    return ()


def _deeper_than(tree: Expr, limit: int) -> int | None:
    """Column of a node more than `limit` levels down, else None (no recursion: any depth)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node.col
        stack.extend((child, depth + 1) for child in children(node))
    return None


def names(node: Expr) -> list[tuple[str, int]]:
    """The variable names an expression reads, with their columns."""
    if isinstance(node, Name):
        return [(node.name, node.col)]
    if isinstance(node, Attr):
        return names(node.obj) + names(node.key)
    if isinstance(node, Unary):
        return names(node.operand)
    if isinstance(node, Binary):
        return names(node.left) + names(node.right)
    if isinstance(node, Call | ListLit):
        items = node.args if isinstance(node, Call) else node.items
        return [n for item in items for n in names(item)]
    return []


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
