"""Run every scenario of a flow (a draft or a published version) and report each one.

A scenario file with problems is reported with them and not played; one whose expected
nodes the flow lacks is located the same way. Each scenario gets its own HTTP client, so
canned webhook answers never leak from one run into another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from callcenter.callsession.effects import IntentService
from callcenter.flow.schema import Flow
from callcenter.scenarios.files import ScenarioFile
from callcenter.scenarios.format import ScenarioProblem, check_against_flow
from callcenter.scenarios.runner import ScenarioResult, run_scenario
from callcenter.speech import LLM

# Builds the transport a scenario's webhooks go through (canned answers, or refusals).
TransportFactory = Callable[[], httpx.AsyncBaseTransport]


@dataclass
class SuiteEntry:
    name: str
    file: str
    description: str = ""
    result: ScenarioResult | None = None  # None: not played (see problems)
    problems: list[ScenarioProblem] = field(default_factory=list)

    @property
    def status(self) -> str:
        """passed | failed | error (the run broke) | invalid (the file has problems)."""
        if self.result is None:
            return "invalid"
        if self.result.error is not None:
            return "error"
        return "passed" if self.result.passed else "failed"


@dataclass
class SuiteReport:
    flow: str
    entries: list[SuiteEntry]

    def count(self, status: str) -> int:
        return sum(1 for e in self.entries if e.status == status)

    @property
    def passed(self) -> bool:
        return bool(self.entries) and all(e.status == "passed" for e in self.entries)


async def run_suite(flow: Flow, files: list[ScenarioFile], *, transport: TransportFactory,
                    intents: IntentService, llm: LLM | None = None) -> SuiteReport:
    """Play `files` against `flow` one after another (each is CPU work: intents)."""
    entries = []
    for f in files:
        shown = f"{flow.name}/{f.path.name}"
        entry = SuiteEntry(f.name, shown, problems=list(f.problems))
        if f.scenario is not None:
            entry.description = f.scenario.description
            entry.problems = check_against_flow(f.scenario, f.text, shown, flow)
            if not entry.problems:
                async with httpx.AsyncClient(transport=transport()) as http:
                    entry.result = await run_scenario(flow, f.scenario, http=http,
                                                      intents=intents, llm=llm)
        entries.append(entry)
    return SuiteReport(flow.name, entries)
