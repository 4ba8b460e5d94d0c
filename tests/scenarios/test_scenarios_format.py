"""Scenario files: every problem at its line and column with a hint; good files parse."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callcenter.callsession.text_channel import parse_line
from callcenter.flow.events import DtmfReceived, NoInput, UserSaid
from callcenter.flow.validate import load_flow_file
from callcenter.scenarios.files import flow_folder, load_scenarios, webhooks_file
from callcenter.scenarios.format import ScenarioTurn, check_against_flow, parse_scenario
from callcenter.scenarios.runner import caller_line, same_value

FLOWS = Path(__file__).resolve().parents[2] / "flows"

GOOD = """description: ok
at: 2026-11-24T15:00:00Z
escalation: timeout
turns:
  - say: "482913"
  - press: "0#"
  - press: 7
  - silence: true
  - hangup: true
expect:
  outcome: hangup
  slots: {order_number: "482913"}
  nodes: [greet]
"""


def test_a_good_scenario_parses() -> None:
    scenario, problems = parse_scenario(GOOD, "s.yaml", "s")
    assert problems == [] and scenario is not None
    assert scenario.turns == (ScenarioTurn("say", "482913"), ScenarioTurn("press", "0#"),
                              ScenarioTurn("press", "7"), ScenarioTurn("silence"),
                              ScenarioTurn("hangup"))
    assert scenario.at == dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC)
    assert scenario.escalation == "timeout"
    assert scenario.expect.slots == {"order_number": "482913"}
    # Said digits stay words; keys are keys; silence is an empty line; hangup ends input.
    lines = [caller_line(t) for t in scenario.turns]
    assert lines == ["/say 482913", "/dtmf 0#", "/dtmf 7", "", None]
    # ... which the text channel reads as the caller's events, as in `callcenter chat`.
    assert [parse_line(x) for x in lines if x is not None] == [
        UserSaid(text="482913"), DtmfReceived(digits="0#"), DtmfReceived(digits="7"), NoInput()]


@pytest.mark.parametrize(("text", "line", "column", "message", "hint"), [
    ("turns: [{say: hi}]\nexpect: {outcome: done}\n", 2, 19, "outcome 'done'", "one of"),
    ("turns: [{say: hi}]\nexpect: {outcome: complete}\n", 2, 19, "outcome 'complete'",
     "did you mean 'completed'?"),
    ("turns:\n  - dtmf: '1'\nexpect: {outcome: hangup}\n", 2, 5, "unknown turn 'dtmf'",
     "in a scenario this is 'press'"),
    ("turns:\n  - wait: agent_done\nexpect: {outcome: hangup}\n", 2, 5, "unknown turn 'wait'",
     "wait for the agent by themselves"),
    ("turns:\n  - press: 0123\nexpect: {outcome: hangup}\n", 2, 12, "reads as a number",
     'quote keys'),
    ("turns:\n  - press: 12ab\nexpect: {outcome: hangup}\n", 2, 12, "not keys", "0-9"),
    ("turns:\n  - hangup: true\n  - say: hi\nexpect: {outcome: hangup}\n", 3, 5,
     "after hangup", "remove it"),
    ("turns: [{say: hi}]\nexpect: {outcome: hangup}\nat: 2026-11-24T15:00:00\n", 3, 5,
     "needs a time zone", "Z or +00:00"),
    ("turns: [{say: hi}]\nexpect: {outcome: hangup}\nescalation: maybe\n", 3, 13,
     "escalation must be one of", "queue"),
    ("turns: [{say: hi}]\nexpect: {}\n", 2, 1, "must say what the call ends with", "e.g."),
    ("turns: [{say: hi}]\nexpect: {outcome: hangup}\nexpext: 1\n", 3, 1, "unknown key 'expext'",
     "did you mean 'expect'?"),
    ("turns: [{say: hi}\nexpect: 1\n", 2, 1, "YAML syntax error", None),
    ("- just a list\n", 1, 1, "a scenario is a mapping", "flows/scenarios"),
])
def test_each_problem_is_located_with_a_hint(text: str, line: int, column: int, message: str,
                                             hint: str | None) -> None:
    scenario, problems = parse_scenario(text, "x.yaml")
    assert scenario is None
    found = [p for p in problems if message in p.message]
    assert found, [p.format() for p in problems]
    assert (found[0].line, found[0].column) == (line, column), found[0].format()
    if hint is not None:
        assert hint in (found[0].hint or ""), found[0].format()
    assert found[0].format().startswith(f"x.yaml:{line}:{column}: ")


def test_expected_nodes_are_checked_against_the_flow() -> None:
    text = GOOD.replace("nodes: [greet]", "nodes: [greet, good_bye]")
    scenario, _ = parse_scenario(text, "s.yaml")
    assert scenario is not None
    flow = load_flow_file(FLOWS / "customer_support.yaml")
    (problem,) = check_against_flow(scenario, text, "s.yaml", flow)
    assert problem.line == 13 and "good_bye" in problem.message
    assert problem.hint == "did you mean 'goodbye'?"


def test_values_compare_as_the_caller_said_them() -> None:
    assert same_value("Jane Doe", "jane doe.")
    assert not same_value("Jane Doe", "Jane")
    assert same_value(False, False) and not same_value(False, 0) and not same_value(1, True)
    assert same_value(3, 3) and not same_value("3", 3)


def test_scenario_files_of_a_flow_and_unsafe_names(tmp_path: Path) -> None:
    folder = tmp_path / "support"
    folder.mkdir()
    (folder / "b.yaml").write_text(GOOD)
    (folder / "a.yaml").write_text("turns: [\n")
    (folder / "webhooks.yaml").write_text("[]\n")
    files = load_scenarios(tmp_path, "support")
    assert [f.name for f in files] == ["a", "b"]
    assert files[0].scenario is None and files[0].problems[0].file == "support/a.yaml"
    assert files[1].scenario is not None
    assert webhooks_file(tmp_path, "support") == folder / "webhooks.yaml"
    for bad in ("../etc", "..", "a/b", "", ".hidden"):
        assert flow_folder(tmp_path, bad) is None
        assert load_scenarios(tmp_path, bad) == []
