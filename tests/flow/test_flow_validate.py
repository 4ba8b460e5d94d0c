"""Validation: every problem at once, each with file, line, column, node and a hint."""

from __future__ import annotations

import textwrap

import pytest

from callcenter.flow.problems import FlowValidationError
from callcenter.flow.validate import check_flow_text, load_flow

GOOD = textwrap.dedent(
    """\
    name: tiny
    start: greet
    nodes:
      greet:
        type: say
        text: Hello!
        next: ask_number
      ask_number:
        type: ask
        slot: account
        expect: digits
        pattern: '\\d{4}'
        prompt: Your account number?
        next: check
      check:
        type: branch
        cases:
          - when: account == '1234'
            goto: bye
        otherwise: bye
      bye:
        type: hangup
        say: Goodbye {{account}}.
    """
)


def _problems(text: str) -> list[tuple[int, str | None, str, str | None]]:
    flow, problems = check_flow_text(text, "t.yaml")
    assert (flow is None) == bool(problems)
    return [(p.line, p.node, p.message, p.hint) for p in problems]


def test_good_flow_loads() -> None:
    flow = load_flow(GOOD)
    assert flow.start == "greet"
    assert list(flow.nodes) == ["greet", "ask_number", "check", "bye"]


def test_three_mistakes_give_three_messages_each_with_its_line() -> None:
    text = (GOOD.replace("    next: ask_number", "    nxet: ask_number")  # line 7
            .replace("pattern: '\\d{4}'", "pattern: '(\\d{4}'")  # line 12
            .replace("otherwise: bye", "otherwise: by"))  # line 20
    problems = _problems(text)
    assert [p[0] for p in problems] == [7, 12, 20]
    assert problems[0][1:] == ("greet", "unknown field 'nxet'", "did you mean 'next'?")
    assert "invalid regular expression" in problems[1][2]
    assert problems[2][1] == "check" and problems[2][3] == "did you mean 'bye'?"


def test_load_flow_raises_with_every_problem_formatted() -> None:
    with pytest.raises(FlowValidationError) as info:
        load_flow(GOOD.replace("type: say", "type: sya"), "t.yaml")
    (problem,) = info.value.problems
    assert problem.format() == (
        "t.yaml:5:11: greet: unknown node type 'sya' (did you mean 'say'?)")


def test_unknown_template_slot_and_bad_expression_point_into_the_text() -> None:
    text = (GOOD.replace("Goodbye {{account}}", "Goodbye {{acount}}")
            .replace("account == '1234'", "account = '1234'"))
    problems = _problems(text)
    assert problems[0][0] == 18 and "use ==" in problems[0][2]
    assert problems[1] == (23, "bye", "template uses unknown slot 'acount'",
                           "did you mean 'account'?")
    _, found = check_flow_text(text, "t.yaml")
    # Column of the '=' inside `- when: account = '1234'`.
    assert found[0].column == text.splitlines()[17].index("=") + 1


def test_unreachable_and_endless_nodes_are_reported() -> None:
    text = GOOD + textwrap.indent(textwrap.dedent(
        """\
          orphan:
            type: say
            text: nobody hears this
            next: bye
          loop_a:
            type: say
            text: a
            next: loop_b
          loop_b:
            type: say
            text: b
            next: loop_a
        """
    ), "  ")
    text = text.replace("otherwise: bye", "otherwise: loop_a")
    messages = [p[2] for p in _problems(text)]
    assert "node 'orphan' can never be reached" in messages
    assert "from node 'loop_a' the call can never end" in messages
    assert "from node 'loop_b' the call can never end" in messages


def test_hours_timezone_and_times_are_checked() -> None:
    text = GOOD.replace(
        "  bye:\n",
        textwrap.indent(textwrap.dedent(
            """\
            hrs:
              type: hours
              timezone: Mars/Olympus
              schedule:
                mon-fri: 09:00-25:00
                funday: 10:00-12:00
              holidays: [2026-13-01]
              open: bye
              closed: bye
            """), "  ") + "  bye:\n",
    ).replace("otherwise: bye", "otherwise: hrs")
    messages = " | ".join(p[2] for p in _problems(text))
    assert "unknown timezone 'Mars/Olympus'" in messages
    assert "invalid time" in messages
    assert "cannot read days 'funday'" in messages
    assert "holiday '2026-13-01' is not a date" in messages


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: [unclosed", "YAML syntax error"),
        ("- just\n- a list\n", "must be a mapping"),
        ("name: x\nstart: a\nnodes: {}\n", "'nodes'"),
        ("", "must be a mapping"),
    ],
)
def test_garbage_gives_a_problem_not_an_exception(text: str, fragment: str) -> None:
    problems = _problems(text)
    assert problems and any(fragment in p[2] for p in problems)


def test_missing_field_and_duplicate_key_are_located() -> None:
    text = GOOD.replace("    text: Hello!\n", "")
    text = text.replace("  bye:\n", "  check:\n    type: hangup\n  bye:\n")
    problems = _problems(text)
    assert (4, "greet", "missing required field 'text'",
            "What to say; may use {{slot}} templates.") in problems
    assert any("'check' is written twice" in p[2] for p in problems)


def test_keypad_only_text_question_is_reported() -> None:
    text = GOOD.replace("expect: digits", "expect: text\n    input: [dtmf]")
    assert [p[2] for p in _problems(text)] == ["expect: text cannot be answered on a keypad"]


_ESCALATE = textwrap.dedent(
    """\
    name: wait
    start: queue
    nodes:
      queue:
        type: escalate
        queue: support
        position_every: {every}
        on_timeout: bye
        next: bye
      bye:
        type: hangup
        say: Goodbye.
    """
)


def test_position_every_zero_turns_announcements_off_and_negative_is_refused() -> None:
    assert load_flow(_ESCALATE.format(every=0)).nodes["queue"].position_every == 0
    problems = _problems(_ESCALATE.format(every=-5))
    assert [(line, node) for line, node, _, _ in problems] == [(7, "queue")]


def test_an_unclosed_optional_part_is_reported_and_a_closed_one_is_checked_inside() -> None:
    unclosed = _problems(GOOD.replace("Goodbye {{account}}.", "Goodbye[[ {{account}}."))
    assert unclosed == [(23, "bye", "optional part '[[' at character 8 is never closed",
                         "add ']]' where the optional part ends")]
    typo = _problems(GOOD.replace("Goodbye {{account}}.", "Goodbye[[ {{acount}}]]."))
    assert typo == [(23, "bye", "template uses unknown slot 'acount'", "did you mean 'account'?")]
    assert _problems(GOOD.replace("Goodbye {{account}}.", "Goodbye[[ {{account}}]].")) == []
