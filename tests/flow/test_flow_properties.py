"""Property-based: any YAML gives a flow or located problems, never another exception;
any event sequence on a valid flow keeps the runner consistent and its state serializable."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.flow.events import (
    AgentReply,
    CallerHungUp,
    CallStarted,
    DtmfReceived,
    EscalationResult,
    Event,
    IntentResult,
    MaxDuration,
    NoInput,
    ProviderFailure,
    ToolCallRequest,
    UserSaid,
    WebhookResult,
)
from callcenter.flow.runner import FlowRunner
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import check_flow_text, load_flow

FLOWS = Path(__file__).resolve().parents[2] / "flows"
EXAMPLES = {p.stem: p.read_text() for p in sorted(FLOWS.glob("*.yaml"))}
NODE_WORDS = ["say", "ask", "menu", "agent", "branch", "set", "webhook", "hours", "escalate",
              "transfer", "hangup", "next", "goto", "type", "nodes", "start", "name", "text",
              "greet", "goodbye", "{{x}}", "a == 1", "((", "09:00-17:00", "Europe/Nowhere"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(NODE_WORDS), st.dates(),
)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(NODE_WORDS), st.text(max_size=8),
                                  st.integers(0, 9)), inner, max_size=5),
    ),
    max_leaves=25,
)


def _consistent(text: str) -> None:
    flow, problems = check_flow_text(text, "fuzz.yaml")
    assert (flow is None) == bool(problems)
    for p in problems:
        assert p.line >= 1 and p.column >= 1 and p.message
        assert "pydantic" not in p.message and "Traceback" not in p.message
    if flow is not None:
        runner = FlowRunner(flow)
        runner.step(runner.new_state(), CallStarted(now=dt.datetime(2026, 1, 5, tzinfo=dt.UTC)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yaml_values)
def test_random_yaml_gives_a_flow_or_problems(data: Any) -> None:
    _consistent(yaml.safe_dump(data, allow_unicode=True))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_gives_a_flow_or_problems(text: str) -> None:
    _consistent(text)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(data: Any, path: tuple[Any, ...], op: str, value: Any) -> Any:
    if not path:
        return value if op == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = value
    elif op == "rename" and isinstance(parent, dict):
        parent[f"{last}x"] = parent.pop(last)
    elif op == "add" and isinstance(parent, dict):
        parent[str(value)[:10] or "extra"] = value
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    return data


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_mutated_example_flows_give_a_flow_or_problems(name: str, data: st.DataObject) -> None:
    flow_data = yaml.safe_load(EXAMPLES[name])
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(flow_data)
        path = data.draw(st.sampled_from(paths))
        op = data.draw(st.sampled_from(["delete", "replace", "rename", "add", "duplicate"]))
        flow_data = _mutate(flow_data, path, op, data.draw(yaml_values))
    _consistent(yaml.safe_dump(flow_data, allow_unicode=True, sort_keys=False))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_text_edits_of_example_flows_give_a_flow_or_problems(name: str,
                                                             data: st.DataObject) -> None:
    lines = EXAMPLES[name].splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    edit = data.draw(st.sampled_from(["drop", "dedent", "indent", "char"]))
    if edit == "drop":
        del lines[i]
    elif edit == "dedent":
        lines[i] = lines[i].lstrip()
    elif edit == "indent":
        lines[i] = "  " + lines[i]
    else:
        pos = data.draw(st.integers(0, len(lines[i])))
        lines[i] = lines[i][:pos] + data.draw(st.sampled_from(list(":-{}[]'\"#&*!|>%@`"))) + \
            lines[i][pos:]
    _consistent("\n".join(lines))


def _event(data: st.DataObject, state: RunnerState, when: dt.datetime) -> Event:
    kind = data.draw(st.sampled_from(
        ["said", "said", "dtmf", "dtmf", "silence", "intent", "reply", "hook", "escalation",
         "failure", "max", "hangup"]))
    if kind == "said":
        text = data.draw(st.one_of(st.text(max_size=30), st.sampled_from(
            ["yes", "no", "order", "billing", "one two three four five six", "a real person",
             "next friday", "4 pm", "call me back", "Dana Scully", "that's all"])))
        return UserSaid(text=text, now=when)
    if kind == "dtmf":
        return DtmfReceived(digits=data.draw(st.from_regex(r"[0-9*#]{1,12}", fullmatch=True)),
                            now=when)
    if kind == "silence":
        return NoInput(now=when)
    if kind == "intent":
        return IntentResult(intent=data.draw(st.sampled_from(
            [None, "frustrated", "done", "payment_methods", "nope"])),
            confidence=data.draw(st.floats(0, 1)), now=when)
    if kind == "reply":
        calls = data.draw(st.lists(st.builds(
            ToolCallRequest, id=st.text(min_size=1, max_size=4),
            name=st.sampled_from(["lookup_invoice", "escalate", "end_conversation", "rm_rf"]),
            arguments=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)),
            max_size=2))
        return AgentReply(text=data.draw(st.text(max_size=20)), tool_calls=calls, now=when)
    if kind == "hook":
        request = data.draw(st.sampled_from([state.request_id or "x", "stale"]))
        return WebhookResult(request_id=request, ok=data.draw(st.booleans()),
                             data=data.draw(yaml_values), now=when)
    if kind == "escalation":
        return EscalationResult(outcome=data.draw(st.sampled_from(
            ["connected", "timeout", "unavailable", "handed_back", "ended"])), now=when)
    if kind == "failure":
        return ProviderFailure(component=data.draw(st.sampled_from(
            ["stt", "tts", "llm", "intents", "other"])), now=when)
    return MaxDuration(now=when) if kind == "max" else CallerHungUp(now=when)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_random_event_sequences_keep_the_runner_consistent(name: str,
                                                           data: st.DataObject) -> None:
    runner = FlowRunner(load_flow(EXAMPLES[name]))
    start = dt.datetime(2026, 11, 29, 15, 0, tzinfo=dt.UTC)
    state, _ = runner.step(runner.new_state(), CallStarted(now=start))
    for i in range(data.draw(st.integers(1, 25))):
        event = _event(data, state, start + dt.timedelta(seconds=20 * i))
        state, actions = runner.step(state, event)
        for action in actions:
            action.model_dump_json()  # every action is JSON for the session and the timeline
        assert RunnerState.model_validate_json(state.model_dump_json()) == state
        assert all(n in runner.flow.nodes for n in state.path)
        if state.ended:
            assert state.outcome is not None
            assert runner.step(state, event)[0] == state  # nothing moves after the end
            break
        assert state.waiting_for is not None
