"""Shapes of try-it (`/api/v1/flows/{name}/try`) and scenario runs (`.../scenarios`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from callcenter.scenarios.files import ScenarioFile
from callcenter.scenarios.format import ScenarioProblem
from callcenter.scenarios.suite import SuiteEntry, SuiteReport
from callcenter.scenarios.tryit import TryItReply

Escalation = Literal["connected", "timeout", "unavailable"]


class TryStart(BaseModel):
    version: int | None = Field(default=None, ge=1, description="Default: the newest version")
    escalation: Escalation = Field(
        default="connected", description="What an escalation does, as `chat --escalation`")
    at: AwareDatetime | None = Field(
        default=None, description="Pretend the call happens then (hours nodes); default now")


class TrySay(BaseModel):
    text: str = Field(max_length=500, description=(
        "What the caller says; `123#` is key presses, '' silence, `/quit` hangs up"))


class TryReplyOut(BaseModel):
    session: str
    version: int
    said: list[str]
    notes: list[str]
    lines: list[tuple[Literal["agent", "note"], str]] = Field(
        description="The agent's lines and the notes between them, in order")
    node: str | None
    waiting_for: str | None
    slots: dict[str, Any]
    path: list[str]
    ended: bool
    outcome: str | None
    reason: str | None

    @classmethod
    def of(cls, reply: TryItReply, version: int) -> TryReplyOut:
        return cls(session=reply.session_id, version=version, said=reply.said,
                   notes=reply.notes, lines=reply.lines,  # type: ignore[arg-type]
                   node=reply.node, waiting_for=reply.waiting_for,
                   slots=reply.slots, path=reply.path, ended=reply.ended,
                   outcome=reply.outcome, reason=reply.reason)


class ScenarioProblemOut(BaseModel):
    file: str
    line: int
    column: int
    message: str
    hint: str | None

    @classmethod
    def of(cls, p: ScenarioProblem) -> ScenarioProblemOut:
        return cls(file=p.file, line=p.line, column=p.column, message=p.message, hint=p.hint)


class ScenarioFileOut(BaseModel):
    name: str
    description: str
    turns: int
    problems: list[ScenarioProblemOut]

    @classmethod
    def of(cls, f: ScenarioFile) -> ScenarioFileOut:
        s = f.scenario
        return cls(name=f.name, description=s.description if s else "",
                   turns=len(s.turns) if s else 0,
                   problems=[ScenarioProblemOut.of(p) for p in f.problems])


class CheckOut(BaseModel):
    what: str
    expected: Any
    actual: Any
    ok: bool


class ScenarioRunOut(BaseModel):
    name: str
    file: str
    description: str
    status: Literal["passed", "failed", "error", "invalid"]
    checks: list[CheckOut]
    problems: list[ScenarioProblemOut]
    outcome: str | None
    reason: str | None
    slots: dict[str, Any]
    path: list[str]
    transcript: list[tuple[str, str]]
    error: str | None

    @classmethod
    def of(cls, e: SuiteEntry) -> ScenarioRunOut:
        r = e.result
        return cls(name=e.name, file=e.file, description=e.description,
                   status=e.status,  # type: ignore[arg-type]
                   checks=[CheckOut(what=c.what, expected=c.expected, actual=c.actual, ok=c.ok)
                           for c in (r.checks if r else [])],
                   problems=[ScenarioProblemOut.of(p) for p in e.problems],
                   outcome=r.outcome if r else None, reason=r.reason if r else None,
                   slots=r.slots if r else {}, path=r.path if r else [],
                   transcript=r.transcript if r else [], error=r.error if r else None)


class SuiteOut(BaseModel):
    flow: str
    version: int
    ran_at: datetime
    passed: bool
    counts: dict[str, int]
    scenarios: list[ScenarioRunOut]

    @classmethod
    def of(cls, report: SuiteReport, version: int, ran_at: datetime) -> SuiteOut:
        return cls(flow=report.flow, version=version, ran_at=ran_at, passed=report.passed,
                   counts={s: report.count(s) for s in ("passed", "failed", "error",
                                                        "invalid")},
                   scenarios=[ScenarioRunOut.of(e) for e in report.entries])
