"""Test helper: drive a flow runner with events and look at what it asked for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from callcenter.callsession.effects import IntentService
from callcenter.flow.actions import Action, ClassifyIntent, RecordEvent, Say
from callcenter.flow.events import CallStarted, Event
from callcenter.flow.runner import FlowRunner
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import load_flow_file

_INTENTS = IntentService()
FLOWS = Path(__file__).resolve().parents[2] / "flows"
# A Tuesday, 10:00 in New York.
TUESDAY_MORNING = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


class Call:
    """One simulated call through a flow file from flows/."""

    def __init__(self, name: str, now: dt.datetime = TUESDAY_MORNING,
                 flows: Path = FLOWS) -> None:
        self.runner = FlowRunner(load_flow_file(flows / f"{name}.yaml"))
        self.state: RunnerState = self.runner.new_state()
        self.now = now
        self.log: list[Action] = []
        self.classify = True  # False: leave ClassifyIntent to the test

    def start(self, **kw: Any) -> list[Action]:
        return self.send(CallStarted(now=self.now, call_id="c1", caller_id="+15550001111",
                                     dialed_number="+15550002222", **kw))

    def send(self, event: Event) -> list[Action]:
        """Apply `event`; a ClassifyIntent is answered at once by the real IntentService
        (as the interpreter would), so tests see what the caller hears next."""
        self.state, actions = self.runner.step(self.state, event)
        self.log += actions
        ask = next((a for a in actions if isinstance(a, ClassifyIntent)), None)
        if ask is not None and self.classify:
            return self.send(_INTENTS.classify(ask))
        return [a for a in actions if not isinstance(a, RecordEvent)]

    def records(self, name: str) -> list[dict[str, Any]]:
        return [a.data for a in self.log if isinstance(a, RecordEvent) and a.event == name]


def spoken(actions: list[Action]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def kinds(actions: list[Action]) -> list[str]:
    return [a.kind for a in actions]
