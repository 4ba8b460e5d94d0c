"""Shapes of the flows and numbers API (`/api/v1/flows`, `/api/v1/numbers`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callcenter.accounts.times import as_utc
from callcenter.flow.problems import FlowProblem
from callcenter.flowstore import DiffLine, FlowSummary, NumberMapping
from callcenter.models import FlowVersion

MAX_FLOW_TEXT = 200_000


class ValidateRequest(BaseModel):
    text: str = Field(max_length=MAX_FLOW_TEXT, description="The flow's YAML")
    file: str = Field(default="<flow>", max_length=200, description="Name used in messages")


class Problem(BaseModel):
    """One problem, located: what the editor shows at the line."""

    line: int
    column: int
    node: str | None
    message: str
    hint: str | None

    @classmethod
    def of(cls, p: FlowProblem) -> Problem:
        return cls(line=p.line, column=p.column, node=p.node, message=p.message, hint=p.hint)


class ValidateResult(BaseModel):
    ok: bool
    name: str | None = Field(description="The flow's name when it has no problems")
    problems: list[Problem]


class DraftRequest(BaseModel):
    text: str = Field(max_length=MAX_FLOW_TEXT)
    note: str = Field(default="", max_length=500)


class FlowListItem(BaseModel):
    name: str
    description: str
    versions: int
    latest: int
    published: int | None
    drafts: int
    numbers: list[str]
    last_edit: datetime | None
    last_author: str
    calls_24h: int

    @classmethod
    def of(cls, f: FlowSummary) -> FlowListItem:
        return cls(name=f.name, description=f.description, versions=f.versions,
                   latest=f.latest, published=f.published, drafts=f.drafts,
                   numbers=f.numbers, last_edit=as_utc(f.last_edit) if f.last_edit else None,
                   last_author=f.last_author, calls_24h=f.calls_24h)


class VersionPublic(BaseModel):
    flow: str
    version: int
    status: str
    author: str
    note: str
    created_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, flow: str, v: FlowVersion) -> VersionPublic:
        return cls(flow=flow, version=v.version, status=v.status, author=v.author,
                   note=v.note, created_at=as_utc(v.created_at),
                   published_at=as_utc(v.published_at) if v.published_at else None)


class VersionWithText(VersionPublic):
    text: str

    @classmethod
    def with_text(cls, flow: str, v: FlowVersion) -> VersionWithText:
        return cls(**VersionPublic.of(flow, v).model_dump(), text=v.yaml_text)


class FlowDetail(BaseModel):
    name: str
    published: int | None
    versions: list[VersionPublic]


class DiffLinePublic(BaseModel):
    kind: str = Field(description="context, add, remove or hunk")
    text: str

    @classmethod
    def of(cls, d: DiffLine) -> DiffLinePublic:
        return cls(kind=d.kind, text=d.text)


class FlowDiff(BaseModel):
    flow: str
    old: int | None
    new: int
    lines: list[DiffLinePublic]


class NumberPublic(BaseModel):
    number: str
    label: str
    flow: str
    published: int | None = Field(description="The flow's live version; None: calls get nothing")
    created_at: datetime

    @classmethod
    def of(cls, n: NumberMapping) -> NumberPublic:
        return cls(number=n.number, label=n.label, flow=n.flow, published=n.published,
                   created_at=as_utc(n.created_at))


class NumberRequest(BaseModel):
    flow: str = Field(max_length=100)
    label: str = Field(default="", max_length=200)
    replace: bool = Field(default=False, description="Move the number if another flow has it")
