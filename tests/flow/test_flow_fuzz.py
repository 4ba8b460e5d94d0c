"""Fuzz: whatever a caller says and whatever an admin writes, the flow code answers fast.

Caller answers against every `expect` type and hostile patterns, expressions over hostile
values, URL templates over hostile slots, YAML with anchors: never an unhandled exception,
never longer than a bound per input.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any
from urllib.parse import unquote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.flow import expr, patterns, urls
from callcenter.flow.nodes import AskNode
from callcenter.flow.validate import check_flow_text
from callcenter.flow.values import parse_answer

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOUND_S = 0.5

caller_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["infinity", "-inf", "nan", "1e309", "9" * 5000, "a" * 3000 + "!",
                     "../../admin?x=1#", "%s%n%x", "{{caller_id}}", "\x00\u202e", "one " * 500]),
)
hostile_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50), st.sampled_from(["infinity", "nan", "9" * 400, "(a+)+", "x" * 9000]),
    st.lists(st.integers(), max_size=5), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=3),
)
expr_words = st.sampled_from(
    ["a", "b", "1", "10 ** 9", "'x'", "*", "+", "-", "/", "%", "(", ")", "[", "]", ",", "==",
     "<", "and", "or", "not", "in", "int(", "round(", "len(", "matches(", "float(", "min(",
     "'(a+)+'", "1000000000", ".", "null", "true"])


def _elapsed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


@FUZZ
@given(text=caller_text,
       expect=st.sampled_from(["text", "digits", "number", "date", "time", "yes_no"]),
       pattern=st.sampled_from([None, r"\d{4}", r"(\w+\s?)+", r"(a|aa)+$", r"[A-Z]{2}\d+"]))
def test_any_caller_answer_is_parsed_or_refused_quickly(
    text: str, expect: str, pattern: str | None
) -> None:
    node = AskNode(type="ask", slot="s", prompt="?", expect=expect, pattern=pattern,  # type: ignore[arg-type]
                   next="x")
    assert _elapsed(lambda: parse_answer(node, text, from_dtmf=False,
                                         today=dt.date(2026, 1, 1))) < BOUND_S


@FUZZ
@given(words=st.lists(expr_words, max_size=40), a=hostile_values, b=hostile_values)
def test_any_expression_over_any_values_gives_a_value_or_an_expr_error(
    words: list[str], a: Any, b: Any
) -> None:
    def run() -> None:
        try:
            tree = expr.parse(" ".join(words))
        except expr.ExprError:
            return
        with contextlib.suppress(expr.ExprError):
            expr.evaluate(tree, {"a": a, "b": b})

    assert _elapsed(run) < BOUND_S


@FUZZ
@given(source=st.text(max_size=200))
def test_any_pattern_text_is_judged_without_an_exception(source: str) -> None:
    assert _elapsed(lambda: patterns.problem(source)) < BOUND_S


@FUZZ
@given(value=st.text(max_size=80))
def test_a_slot_value_never_leaves_its_path_segment_or_query_value(value: str) -> None:
    url = httpx.URL(urls.render_url("https://crm.example/orders/{{v}}/status?q={{v}}&k=1",
                                    {"v": value}))
    assert url.host == "crm.example"
    segments = url.raw_path.split(b"?", 1)[0].split(b"/")
    assert segments[1] == b"orders" and segments[3] == b"status" and len(segments) == 4
    assert unquote(segments[2].decode()) in (value, "." * len(value))
    assert url.params["k"] == "1" and url.params["q"] == value


yaml_bits = st.sampled_from(["a: &x [1, 2, 3]\n", "b: [*x, *x, *x]\n", "c: &y [*x, *x]\n",
                             "d: [*y, *y, *y, *y]\n", "nodes:\n", "  n: {type: hangup}\n",
                             "start: n\n", "name: f\n", "e: " + "[" * 30 + "]" * 30 + "\n",
                             "f: *nope\n", "<<: *x\n", "g: !!python/object:os.system x\n"])


@FUZZ
@given(parts=st.lists(yaml_bits, max_size=12))
def test_any_yaml_with_anchors_gives_a_flow_or_problems_quickly(parts: list[str]) -> None:
    assert _elapsed(lambda: check_flow_text("".join(parts))) < BOUND_S
