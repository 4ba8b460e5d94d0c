"""Hostile flows and hostile callers: nothing hangs, crashes or reaches another URL.

A pattern with nested repeats, "infinity" said to a computed slot, a condition nested a
thousand deep, YAML aliases that expand to gigabytes, a caller answer with `../` and `?`
put into a webhook URL: each gives a located problem or a typed failure, fast.
"""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
from typing import Any

import httpx
import pytest

from callcenter.flow import expr, patterns, urls
from callcenter.flow.actions import CallWebhook, Hangup, RecordEvent, Say
from callcenter.flow.events import CallStarted, UserSaid
from callcenter.flow.nodes import AskNode
from callcenter.flow.runner import FlowRunner
from callcenter.flow.validate import check_flow_text, load_flow
from callcenter.flow.values import parse_answer
from callcenter.flow.walk import EXPRESSION_APOLOGY

TODAY = dt.date(2026, 1, 1)
NESTED = r"(\w+\s?)+"  # Python's re: about 19 s for 26 characters, doubling with each one
ANSWER = "a" * 60 + "!"


def _flow(nodes: str, head: str = "") -> str:
    return f"name: t\nstart: first\n{head}nodes:\n{nodes}"


def _messages(text: str) -> list[tuple[int, int, str, str | None]]:
    flow, problems = check_flow_text(text, "t.yaml")
    assert flow is None
    return [(p.line, p.column, p.message, p.hint) for p in problems]


# ------------------------------------------------------------------ patterns


def test_nested_repeat_pattern_is_refused_at_validation_with_line_and_hint() -> None:
    text = _flow(
        "  first:\n    type: ask\n    slot: name\n    prompt: Name?\n"
        f"    pattern: '{NESTED}'\n    next: bye\n"
        "  bye: {type: hangup}\n")
    [(line, _col, message, hint)] = _messages(text)
    assert line == 8
    assert "repeat inside a repeat" in message
    assert hint and "[\\w\\s]+" in hint


@pytest.mark.parametrize("pattern", [r"(?=\d)\d+", r"(\d)\1"])
def test_pattern_the_linear_engine_cannot_run_is_refused(pattern: str) -> None:
    problem = patterns.problem(pattern)
    assert problem is not None and "cannot be run safely" in problem.message


@pytest.mark.parametrize("pattern", [r"\d{4}", r"[A-Z]{2}\d{6}", r"(\d{3}-)+\d{4}", r"\w+"])
def test_ordinary_patterns_pass(pattern: str) -> None:
    assert patterns.problem(pattern) is None


def test_syntax_error_in_pattern_points_at_its_column() -> None:
    text = _flow(
        "  first:\n    type: ask\n    slot: code\n    prompt: Code?\n"
        "    pattern: 'ab[c'\n    next: bye\n  bye: {type: hangup}\n")
    [(line, col, message, _)] = _messages(text)
    assert (line, col) == (8, 17) and "invalid regular expression" in message


def test_nested_pattern_in_a_stored_flow_matches_a_long_answer_in_milliseconds() -> None:
    # A flow stored before validation refused these still runs, in linear time.
    node = AskNode(type="ask", slot="name", prompt="Name?", pattern=NESTED, next="x")
    started = time.perf_counter()
    assert parse_answer(node, ANSWER, from_dtmf=False, today=TODAY) is None
    assert parse_answer(node, "ann lee", from_dtmf=False, today=TODAY) == "ann lee"
    assert time.perf_counter() - started < 0.05


def test_matches_function_runs_caller_patterns_in_linear_time() -> None:
    started = time.perf_counter()
    assert expr.compile_condition("matches(name, pattern)")({"name": ANSWER,
                                                             "pattern": NESTED}) is True
    with pytest.raises(expr.EvalError):
        expr.evaluate(expr.parse("matches(name, '(a)\\\\1')"), {"name": "aa"})
    assert time.perf_counter() - started < 0.05


def test_matches_with_a_nested_literal_pattern_is_refused_at_validation() -> None:
    text = _flow(
        "  first:\n    type: branch\n    cases:\n"
        "      - when: \"matches(caller_id, '(a+)+')\"\n        goto: bye\n"
        "    otherwise: bye\n  bye: {type: hangup}\n")
    [(line, _col, message, _)] = _messages(text)
    assert line == 7 and "matches()" in message


# ------------------------------------------------------------------ expressions


@pytest.mark.parametrize(
    ("source", "scope"),
    [
        ("int(amount)", {"amount": float("inf")}),  # a caller said "infinity"
        ("round(amount)", {"amount": float("inf")}),
        ("int(amount) + 1", {"amount": float("nan")}),
        ("'a' * 1000000000", {}),
        ("[1] * 1000000000", {}),
        ("x * x", {"x": 10 ** 60}),
        ("'%0999999999d' % 1", {}),
        ("round(1.5, 1000000000)", {}),
        ("x + x", {"x": "y" * 9_000}),
        ("amount / 0", {"amount": 3}),
    ],
)
def test_caller_values_that_overflow_are_a_typed_evaluation_error(
    source: str, scope: dict[str, Any]
) -> None:
    started = time.perf_counter()
    with pytest.raises(expr.EvalError) as info:
        expr.evaluate(expr.parse(source), scope)
    assert info.value.column >= 1
    assert time.perf_counter() - started < 0.5


def test_deeply_nested_webhook_data_is_an_evaluation_error_not_a_recursion_error() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(expr.EvalError):
        expr.evaluate(expr.parse("data in [other]"), {"data": deep, "other": [deep]})


@pytest.mark.parametrize(
    "source",
    ["(" * 5_000 + "1" + ")" * 5_000, "not " * 5_000 + "a", "-" * 5_000 + "1",
     " + ".join(["a"] * 900), "len(" * 100 + "a" + ")" * 100, "a[" * 300 + "0" + "]" * 300],
)
def test_deep_nesting_is_a_syntax_error_with_a_column_not_a_recursion_error(source: str) -> None:
    with pytest.raises(expr.ExprError) as info:
        expr.parse(source)
    assert "nested" in info.value.message or "chains" in info.value.message \
        or "longer than" in info.value.message
    assert info.value.column >= 1


def test_deep_condition_in_a_flow_is_a_located_problem() -> None:
    when = "(" * 400 + "caller_id" + ")" * 400
    text = _flow(f"  first:\n    type: branch\n    cases:\n      - when: '{when}'\n"
                 "        goto: bye\n    otherwise: bye\n  bye: {type: hangup}\n")
    [(line, col, message, _)] = _messages(text)
    assert line == 7 and col > 10 and "nested more than" in message


_CALC = (
    "  first:\n    type: ask\n    slot: amount\n    expect: number\n"
    "    prompt: How much?\n    next: calc\n"
    "  calc:\n    type: set\n    compute: {cents: int(amount * 100)}\n    next: check\n"
    "  check:\n    type: branch\n    cases:\n      - {when: cents > 10, goto: big}\n"
    "    otherwise: small\n"
    "  big: {type: hangup, say: Big.}\n  small: {type: hangup, say: Small.}\n")
_SORRY = "  sorry: {type: hangup, say: Let me end the call here.}\n"
_ERROR_ROUTE = "handlers:\n  provider_failure: {say: Sorry about that., goto: sorry}\n"


def _said(actions: list[Any]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def test_infinity_said_to_a_computed_slot_takes_the_error_route_with_an_apology() -> None:
    runner = FlowRunner(load_flow(_flow(_CALC + _SORRY, _ERROR_ROUTE)))
    state, _ = runner.step(runner.new_state(), CallStarted(call_id="c"))
    state, actions = runner.step(state, UserSaid(text="infinity"))
    errors = [a.data for a in actions if isinstance(a, RecordEvent) and a.event == "error"]
    assert errors and "cents" in errors[0]["message"] and errors[0]["kind"] == "expression"
    # Never on to `check` with a guessed value: the apology, then the handler's target.
    assert "check" not in state.path and state.node == "sorry"
    assert _said(actions) == ["Sorry about that.", "Let me end the call here."]


def test_failed_expression_without_an_error_route_ends_the_call_with_an_apology() -> None:
    runner = FlowRunner(load_flow(_flow(_CALC)))
    state, _ = runner.step(runner.new_state(), CallStarted(call_id="c"))
    state, actions = runner.step(state, UserSaid(text="infinity"))
    assert state.outcome == "error" and state.end_reason == "expression_failed"
    assert _said(actions) == [EXPRESSION_APOLOGY + " Goodbye."]
    assert any(isinstance(a, Hangup) for a in actions)


def test_failed_branch_condition_takes_the_error_route_not_the_otherwise() -> None:
    runner = FlowRunner(load_flow(_flow(
        "  first:\n    type: ask\n    slot: code\n    prompt: Code?\n    next: check\n"
        "  check:\n    type: branch\n    cases:\n      - {when: 'code * 99999 > 1', goto: big}\n"
        "    otherwise: small\n"
        "  big: {type: hangup, say: Big.}\n  small: {type: hangup, say: Small.}\n"
        "  sorry: {type: hangup, say: Goodbye.}\n", _ERROR_ROUTE)))
    state, _ = runner.step(runner.new_state(), CallStarted(call_id="c"))
    state, actions = runner.step(state, UserSaid(text="x" * 500))
    assert state.node == "sorry" and "small" not in state.path
    assert _said(actions)[0] == "Sorry about that."


def test_error_route_that_leads_back_to_the_failing_node_ends_instead_of_looping() -> None:
    runner = FlowRunner(load_flow(_flow(
        _CALC, "handlers:\n  provider_failure: {say: Oops., goto: calc}\n")))
    state, _ = runner.step(runner.new_state(), CallStarted(call_id="c"))
    state, _actions = runner.step(state, UserSaid(text="infinity"))
    assert state.ended and state.end_reason == "loop"


# ------------------------------------------------------------------ YAML


def _laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    last = f"*l{levels - 1}"
    return _flow("  first: {type: hangup, say: " + last + "}\n", "\n".join(lines) + "\n")


def test_billion_laughs_flow_is_refused_in_under_a_second_with_little_memory() -> None:
    text = _laughs()
    assert len(text) < 600
    tracemalloc.start()
    started = time.perf_counter()
    try:
        flow, problems = check_flow_text(text, "lol.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1.0
    assert peak < 20 * 2**20
    assert flow is None and "aliases" in problems[0].message and problems[0].line > 1


def test_a_few_aliases_still_work() -> None:
    text = _flow("  first: {type: say, text: *hi, next: bye}\n  bye: {type: hangup, say: *hi}\n",
                 "variables: {greeting: &hi Hello there}\n")
    assert load_flow(text).start == "first"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: " + "[" * 200 + "]" * 200, "levels deep"),
        ("a: &x [1, *x]", "inside its own anchor"),
        ("name: t\n# " + "x" * 1_000_100 + "\n", "the limit is"),
        ("a:\n" + "".join(f"{' ' * (i + 1)}b{i}:\n" for i in range(60)), "levels deep"),
    ],
)
def test_oversized_deep_or_self_referring_yaml_is_one_clear_problem(text: str,
                                                                    fragment: str) -> None:
    started = time.perf_counter()
    flow, problems = check_flow_text(text, "bad.yaml")
    assert time.perf_counter() - started < 1.0
    assert flow is None and len(problems) == 1 and fragment in problems[0].message
    assert "indentation" not in (problems[0].hint or "")


# ------------------------------------------------------------------ webhook URLs


def _webhook_call(url: str, answer: str, head: str = "") -> CallWebhook:
    runner = FlowRunner(load_flow(_flow(
        "  first:\n    type: ask\n    slot: order\n    prompt: Order?\n    next: hook\n"
        f"  hook:\n    type: webhook\n    method: GET\n    url: '{url}'\n    next: bye\n"
        "    on_failure: bye\n  bye: {type: hangup}\n", head)))
    state, _ = runner.step(runner.new_state(), CallStarted(call_id="c"))
    state, actions = runner.step(state, UserSaid(text=answer))
    [hook] = [a for a in actions if isinstance(a, CallWebhook)]
    return hook


def test_caller_answer_cannot_reach_another_path_or_query_of_the_backend() -> None:
    hook = _webhook_call("https://crm.example/orders/{{order}}/status?src=ivr",
                         "../../admin/users?delete=all#")
    url = httpx.URL(hook.url)
    assert url.host == "crm.example"
    assert url.raw_path.startswith(b"/orders/")
    assert url.raw_path.endswith(b"/status?src=ivr")
    assert url.params.get("delete") is None and url.params["src"] == "ivr"


def test_caller_answer_in_a_query_value_stays_one_value() -> None:
    hook = _webhook_call("{{crm}}/lookup?order={{order}}&v=2", "12 & admin=1",
                         "variables: {crm: 'https://crm.example/api'}\n")
    url = httpx.URL(hook.url)
    assert str(url).startswith("https://crm.example/api/lookup?")
    assert dict(url.params) == {"order": "12 & admin=1", "v": "2"}


def test_dot_segments_are_encoded_so_servers_cannot_resolve_them() -> None:
    assert urls.render_url("https://x/a/{{s}}/b", {"s": ".."}) == "https://x/a/%2E%2E/b"


def test_caller_slot_in_the_host_part_is_refused_at_validation() -> None:
    text = _flow(
        "  first:\n    type: ask\n    slot: site\n    prompt: Site?\n    next: hook\n"
        "  hook:\n    type: webhook\n    url: 'https://{{site}}/x'\n    next: bye\n"
        "  bye: {type: hangup}\n")
    [(_line, _col, message, _)] = _messages(text)
    assert "choose the server" in message
