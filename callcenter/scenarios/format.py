"""Scenario files: a scripted text caller and what the flow must end with, checked with lines.

```yaml
description: A customer checks a shipped order, then says goodbye.
at: 2026-11-24T15:00:00Z     # optional: when the call happens (hours nodes); default now
caller_id: "+15550003333"    # optional
escalation: connected        # optional: what an escalation does (connected|timeout|unavailable)
turns:                       # the caller's turns, each answering the agent's last question
  - say: I want to check my order status.
  - press: "482913#"         # keypad presses
  - silence: true            # the caller says nothing (no-input)
  - hangup: true             # the caller hangs up (later turns are refused)
expect:
  outcome: completed         # completed | escalated | transferred | hangup | error
  slots: {order_number: "482913", more_help: false}
  nodes: [lookup_order, say_shipped]   # nodes the call must pass through
```

Turns run in text mode, through the same interpreter as a voice call (`callsession`), so a
scenario is what `callcenter chat` would do with the same lines typed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from callcenter.flow.problems import did_you_mean
from callcenter.flow.schema import Flow
from callcenter.flow.state import Outcome
from callcenter.flow.yamlpos import LoadedYaml, Path, YamlSyntaxError, load_yaml

TurnKind = Literal["say", "press", "silence", "hangup"]
TURN_KINDS: tuple[str, ...] = get_args(TurnKind)
OUTCOMES: tuple[str, ...] = get_args(Outcome)
ESCALATIONS = ("connected", "timeout", "unavailable")
TOP_KEYS = ("description", "at", "caller_id", "escalation", "turns", "expect")
EXPECT_KEYS = ("outcome", "slots", "nodes")
# What a voice caller script (callcenter/testing/script.py) calls these, for the hint.
_VOICE_TURNS = {"dtmf": "press", "wait": None, "noise": "silence"}
_KEYS = re.compile(r"^[0-9*#]+$")
MAX_TURNS = 200
MAX_TEXT = 500
MAX_SCENARIO_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class ScenarioProblem:
    """One thing wrong with a scenario file, at its line."""

    file: str
    line: int
    column: int
    message: str
    hint: str | None = None

    def format(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.column}: {self.message}{hint}"


@dataclass(frozen=True, slots=True)
class ScenarioTurn:
    kind: TurnKind
    text: str = ""  # say: the words; press: the keys


@dataclass(frozen=True, slots=True)
class Expectation:
    outcome: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    turns: tuple[ScenarioTurn, ...]
    expect: Expectation
    description: str = ""
    at: dt.datetime | None = None
    caller_id: str = "scenario"
    escalation: str = "connected"


class _Checker:
    """Collects problems at the position of the key or value they are about."""

    def __init__(self, file: str, loaded: LoadedYaml) -> None:
        self.file, self.loaded = file, loaded
        self.problems: list[ScenarioProblem] = []

    def add(self, path: Path, message: str, hint: str | None = None, *,
            key: bool = False) -> None:
        pos = self.loaded.position(path, prefer_key=key)
        self.problems.append(ScenarioProblem(self.file, pos.line, pos.column, message, hint))

    def unknown_keys(self, path: Path, data: dict[Any, Any], allowed: tuple[str, ...],
                     what: str) -> None:
        for key in data:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed) or f"{what} keys: {', '.join(allowed)}"
                self.add((*path, key), f"unknown key {key!r} in {what}", hint, key=True)

    def text(self, path: Path, value: Any, what: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.add(path, f"{what} must be text, not {type(value).__name__}",
                     'quote it: "..."')
            return None
        text = str(value).strip()
        if not text or len(text) > MAX_TEXT:
            self.add(path, f"{what} must be 1 to {MAX_TEXT} characters")
            return None
        return text


def parse_scenario(text: str, file: str = "<scenario>",
                   name: str = "scenario") -> tuple[Scenario | None, list[ScenarioProblem]]:
    """Parse and check a scenario; returns (scenario or None, every problem). Never raises."""
    if len(text) > MAX_SCENARIO_CHARS:
        return None, [ScenarioProblem(file, 1, 1, f"the file is {len(text):,} characters; "
                                      f"the limit is {MAX_SCENARIO_CHARS:,}",
                                      "split it into several scenarios")]
    try:
        loaded = load_yaml(text)
    except YamlSyntaxError as exc:
        return None, [ScenarioProblem(file, exc.position.line, exc.position.column,
                                      exc.message, exc.hint or "check the indentation and "
                                      "quoting on this line")]
    check = _Checker(file, loaded)
    data = loaded.data
    if not isinstance(data, dict):
        check.add((), "a scenario is a mapping with turns: and expect:",
                  "see flows/scenarios/ for examples")
        return None, check.problems
    for path, _pos in loaded.duplicates:
        check.add(path, f"{path[-1]!r} is written twice", "keep one", key=True)
    check.unknown_keys((), data, TOP_KEYS, "a scenario")
    turns = _turns(check, data.get("turns"))
    expect = _expect(check, data.get("expect"))
    at = _at(check, data.get("at"))
    escalation = data.get("escalation", "connected")
    if escalation not in ESCALATIONS:
        check.add(("escalation",), f"escalation must be one of {', '.join(ESCALATIONS)}, "
                  f"not {escalation!r}", "what the queue does when the flow escalates")
    caller_id = check.text(("caller_id",), data.get("caller_id", "scenario"), "caller_id")
    description = data.get("description", "")
    if not isinstance(description, str):
        check.add(("description",), "description must be text", 'quote it: "..."')
    if check.problems or turns is None or expect is None:
        return None, sorted(check.problems, key=lambda p: (p.line, p.column))
    return Scenario(name, turns, expect, str(description).strip(), at, caller_id or "scenario",
                    str(escalation)), []


def _turns(check: _Checker, raw: Any) -> tuple[ScenarioTurn, ...] | None:
    if not isinstance(raw, list):  # [] is fine: a flow that ends before the caller speaks
        check.add(("turns",), "turns: must be a list of caller turns",
                  'e.g. turns: [{say: "order status"}, {press: "482913#"}]', key=True)
        return None
    if len(raw) > MAX_TURNS:
        check.add(("turns",), f"{len(raw)} turns; the limit is {MAX_TURNS}", key=True)
        return None
    turns: list[ScenarioTurn] = []
    for i, item in enumerate(raw):
        turn = _turn(check, ("turns", i), item)
        if turn is not None:
            if turns and turns[-1].kind == "hangup":
                check.add(("turns", i), "a turn after hangup is never played",
                          "remove it, or move the hangup to the end")
            turns.append(turn)
    return tuple(turns) if len(turns) == len(raw) else None


def _turn(check: _Checker, path: Path, item: Any) -> ScenarioTurn | None:
    if not isinstance(item, dict) or len(item) != 1:
        check.add(path, f"each turn is one of {', '.join(TURN_KINDS)}",
                  'e.g. - say: "yes please"  or  - press: "1"')
        return None
    kind, value = next(iter(item.items()))
    where = (*path, kind)
    if kind not in TURN_KINDS:
        voice = _VOICE_TURNS.get(str(kind), "")
        hint = (f"a scenario's turns wait for the agent by themselves; drop {kind!r}"
                if voice is None else f"in a scenario this is {voice!r}" if voice
                else did_you_mean(str(kind), TURN_KINDS) or f"one of {', '.join(TURN_KINDS)}")
        check.add(where, f"unknown turn {kind!r}", hint, key=True)
        return None
    if kind in ("silence", "hangup"):
        if value is not True:
            check.add(where, f"write {kind}: true", key=True)
            return None
        return ScenarioTurn(kind)
    text = check.text(where, value, f"{kind}:")
    if text is None:
        return None
    if kind == "press":
        if isinstance(value, int) and not isinstance(value, bool) and len(text) > 1:
            check.add(where, f"press: {value} reads as a number", 'quote keys: press: "0123#"')
            return None
        if not _KEYS.match(text):
            check.add(where, f"press: {text!r} has characters that are not keys",
                      "keys are 0-9, * and #; say: is for words")
            return None
    return ScenarioTurn(kind, text)


def _expect(check: _Checker, raw: Any) -> Expectation | None:
    if not isinstance(raw, dict) or not raw:
        check.add(("expect",), "expect: must say what the call ends with",
                  "e.g. expect: {outcome: completed, slots: {order_number: '482913'}}",
                  key=True)
        return None
    check.unknown_keys(("expect",), raw, EXPECT_KEYS, "expect")
    outcome = raw.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        check.add(("expect", "outcome"), f"outcome {outcome!r} is not one a call can have",
                  did_you_mean(str(outcome), OUTCOMES) or f"one of {', '.join(OUTCOMES)}")
    slots = raw.get("slots", {})
    if not isinstance(slots, dict) or not all(isinstance(k, str) for k in slots):
        check.add(("expect", "slots"), "slots: is a mapping of slot names to values",
                  "e.g. slots: {order_number: '482913'}")
        slots = {}
    nodes = raw.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        check.add(("expect", "nodes"), "nodes: is a list of node names",
                  "e.g. nodes: [lookup_order, goodbye]")
        nodes = []
    if outcome is None and not slots and not nodes:
        check.add(("expect",), "expect: names no outcome, slots or nodes to check", key=True)
    return Expectation(outcome, dict(slots), tuple(nodes))


def _at(check: _Checker, raw: Any) -> dt.datetime | None:
    if raw is None:
        return None
    value = raw
    if isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            check.add(("at",), f"at: {raw!r} is not an ISO date and time",
                      "e.g. at: 2026-11-24T15:00:00Z")
            return None
    if not isinstance(value, dt.datetime):
        check.add(("at",), "at: is a date and time", "e.g. at: 2026-11-24T15:00:00Z")
        return None
    if value.tzinfo is None:
        check.add(("at",), "at: needs a time zone", "end it with Z or +00:00")
        return None
    return value


def check_against_flow(scenario: Scenario, text: str, file: str,
                       flow: Flow) -> list[ScenarioProblem]:
    """Problems only the flow can show: expected nodes that it does not have."""
    loaded = load_yaml(text)  # parsed once already, so it cannot fail here
    check = _Checker(file, loaded)
    for i, node in enumerate(scenario.expect.nodes):
        if node not in flow.nodes:
            check.add(("expect", "nodes", i), f"flow {flow.name} has no node {node!r}",
                      did_you_mean(node, list(flow.nodes)) or "check the flow's node names")
    return check.problems
