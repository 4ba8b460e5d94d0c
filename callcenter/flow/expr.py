"""A small, safe expression language for `branch` conditions and `set.compute`.

Own tokenizer and recursive-descent parser; nothing is ever passed to `eval`. Supports
literals (numbers, 'strings', true/false/null, [lists]), names (slots and variables, with
`.field` and `[index]` into webhook data), arithmetic `+ - * / %`, comparisons
`== != < <= > >=`, `in` / `not in`, `and` / `or` / `not`, and a fixed set of functions.
Errors carry the 1-based column of the offending character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ExprError(ValueError):
    """A syntax or evaluation error; `column` is 1-based within the expression."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column


def _matches(pattern: object, text: object) -> bool:
    return re.search(str(pattern), "" if text is None else str(text)) is not None


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
    "round": round,
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
        self.tokens = tokenize(source)
        self.i = 0

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
            return Unary("not", self.not_(), t.col)
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
            return Unary("-", self.unary(), t.col)
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
                index = self.or_()
                self.expect("]")
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
            node = self.or_()
            self.expect(")")
            return node
        if t.kind == "op" and t.text == "[":
            items: list[Expr] = []
            while not (self.tok.kind == "op" and self.tok.text == "]"):
                items.append(self.or_())
                if self.tok.text != ",":
                    break
                self.take()
            self.expect("]")
            return ListLit(tuple(items), t.col)
        found = t.text or "end of expression"
        raise ExprError(f"expected a value but found {found!r}", t.col)

    def call(self, name: Token) -> Expr:
        if name.text not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExprError(f"unknown function {name.text!r} (known: {known})", name.col)
        self.expect("(")
        args: list[Expr] = []
        while not (self.tok.kind == "op" and self.tok.text == ")"):
            args.append(self.or_())
            if self.tok.text != ",":
                break
            self.take()
        self.expect(")")
        return Call(name.text, tuple(args), name.col)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse(source: str) -> Expr:
    """Parse an expression; raises ExprError with the column of the problem."""
    return _Parser(source).parse()


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
    """Evaluate against `scope`; unset names are null. Type errors raise ExprError."""
    try:
        return _eval(node, scope)
    except ExprError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, re.error) as exc:
        raise ExprError(f"cannot evaluate: {exc}", getattr(node, "col", 1)) from None


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
        return FUNCTIONS[node.func](*(_eval(a, scope) for a in node.args))
    return _binary(node, scope)


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
        "*": lambda a, b: a * b, "/": lambda a, b: a / b, "%": lambda a, b: a % b,
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
