"""Play a scenario against a flow in text mode and judge what it ended with.

The caller's turns go through `TextSession`, the same interpreter `callcenter chat`, try-it
and voice calls use: `say` is words, `press` keys, `silence` a no-input, `hangup` the end.
A call still going after the last turn is hung up, as a caller would.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import Effects
from callcenter.callsession.text_channel import ScriptedEscalations
from callcenter.callsession.text_session import TextSession
from callcenter.flow.schema import Flow
from callcenter.scenarios.format import Scenario, ScenarioTurn
from callcenter.speech import LLM

SCENARIO_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation and what the call did."""

    what: str  # "outcome", "slot order_number", "node goodbye", "turns"
    expected: Any
    actual: Any
    ok: bool


@dataclass
class ScenarioResult:
    name: str
    passed: bool
    checks: list[Check] = field(default_factory=list)
    # (speaker, text) in order: "agent" or "caller"; keys and silence as the caller's line.
    transcript: list[tuple[str, str]] = field(default_factory=list)
    outcome: str | None = None
    reason: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    error: str | None = None  # the run itself failed (timeout, a bug): not a verdict


def same_value(expected: Any, actual: Any) -> bool:
    """Equal, or the same words: text compares without case, outer spaces or a final stop
    (a caller's "Jane Doe." fills the slot the way it was heard)."""
    if isinstance(expected, str) and isinstance(actual, str):
        return _words(expected) == _words(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def _words(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".!?")


def caller_line(turn: ScenarioTurn) -> str | None:
    """The text-channel line for a turn (see text_channel.parse_line)."""
    if turn.kind == "say":
        return f"/say {turn.text}"
    if turn.kind == "press":
        return f"/dtmf {turn.text}"
    return "" if turn.kind == "silence" else None


def _shown(turn: ScenarioTurn) -> str:
    return {"say": turn.text, "press": f"[keys {turn.text}]", "silence": "[silence]",
            "hangup": "[hangs up]"}[turn.kind]


async def run_scenario(flow: Flow, scenario: Scenario, *, http: httpx.AsyncClient,
                       intents: IntentService, llm: LLM | None = None,
                       timeout_s: float = SCENARIO_TIMEOUT_S) -> ScenarioResult:
    """Play `scenario` against `flow`; the result says which expectations held."""
    effects = Effects(http=http, llm=llm, intents=intents,
                      escalations=ScriptedEscalations(scenario.escalation))
    session = TextSession(flow, effects, call_id=f"scenario-{scenario.name}",
                          caller_id=scenario.caller_id, now=scenario.at)
    result = ScenarioResult(scenario.name, passed=False)
    unplayed = 0
    try:
        async with asyncio.timeout(timeout_s):
            turn = await session.start()
            result.transcript += [("agent", s) for s in turn.said]
            for i, step in enumerate(scenario.turns):
                if turn.ended:
                    unplayed = len(scenario.turns) - i
                    break
                result.transcript.append(("caller", _shown(step)))
                turn = await session.send(caller_line(step))
                result.transcript += [("agent", s) for s in turn.said]
            await session.aclose()
    except TimeoutError:
        result.error = (f"the call was still going after {timeout_s:g} s: does the flow "
                        "wait for something the scenario never gives?")
    except Exception as exc:  # a bug in the flow run: shown on the scenario, not a crash
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if not session.ended:
            await _abandon(session)
    state = session.state
    result.outcome, result.reason = session.outcome
    result.slots, result.path = dict(state.slots), list(state.path)
    result.checks = _judge(scenario, result, unplayed)
    result.passed = result.error is None and all(c.ok for c in result.checks)
    return result


async def _abandon(session: TextSession) -> None:
    with contextlib.suppress(TimeoutError, RuntimeError):
        await session.aclose()


def _judge(scenario: Scenario, result: ScenarioResult, unplayed: int) -> list[Check]:
    want = scenario.expect
    checks: list[Check] = []
    if want.outcome is not None:
        checks.append(Check("outcome", want.outcome, result.outcome,
                            want.outcome == result.outcome))
    for name, value in want.slots.items():
        actual = result.slots.get(name)
        checks.append(Check(f"slot {name}", value, actual,
                            name in result.slots and same_value(value, actual)))
    for node in want.nodes:
        checks.append(Check(f"node {node}", "visited",
                            "visited" if node in result.path else "not visited",
                            node in result.path))
    if unplayed:
        checks.append(Check("turns", "all played",
                            f"the call ended with {unplayed} turn(s) unplayed", False))
    return checks
