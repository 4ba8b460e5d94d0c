"""The expression language's tokenizer, syntax tree and recursive-descent parser.

See `callcenter.flow.expr` for the language; nothing here evaluates anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from callcenter.flow.expr_values import FUNCTIONS

MAX_SOURCE_CHARS = 2_000
MAX_DEPTH = 40  # nesting of brackets, `not`/`-` and operator chains


class ExprError(ValueError):
    """A syntax or evaluation error; `column` is 1-based within the expression."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column


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
