"""Shapes of the calls API (`/api/v1/calls`): list rows, a page, the detail, the transcript."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from callcenter.records.call_detail import (
    CallDetail,
    EscalationView,
    TimelineEvent,
    TranscriptEntry,
    TurnLatency,
)
from callcenter.records.calls import CallPage, CallRow


class CallSummary(BaseModel):
    id: str
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    caller_number: str
    dialed_number: str
    status: str
    disposition: str | None
    escalated: bool
    flow: str | None
    flow_version: int | None
    sentiment: float | None

    @classmethod
    def of(cls, r: CallRow) -> CallSummary:
        return cls(id=r.id, started_at=r.started_at, ended_at=r.ended_at,
                   duration_s=r.duration_s, caller_number=r.caller_number,
                   dialed_number=r.dialed_number, status=r.status, disposition=r.disposition,
                   escalated=r.escalated, flow=r.flow, flow_version=r.flow_version,
                   sentiment=r.sentiment)


class CallList(BaseModel):
    items: list[CallSummary]
    total: int = Field(description="Calls that match, counted up to 1,000 (see `more`)")
    more: bool = Field(False, description="More than `total` calls match: counting stopped")
    page: int
    per_page: int
    pages: int

    @classmethod
    def of(cls, p: CallPage) -> CallList:
        return cls(items=[CallSummary.of(r) for r in p.rows], total=p.total, more=p.more,
                   page=p.page, per_page=p.per_page, pages=p.pages)


class TranscriptLinePublic(BaseModel):
    kind: str = Field(description="speech or keypad")
    speaker: str
    start_ms: int
    end_ms: int
    text: str = Field(description="What was said; for an interrupted agent line, what was heard")
    planned: str | None = Field(description="The agent's intended line, when it was cut off")
    interrupted: bool
    redactions: list[str]

    @classmethod
    def of(cls, e: TranscriptEntry) -> TranscriptLinePublic:
        return cls(kind=e.kind, speaker=e.speaker, start_ms=e.start_ms, end_ms=e.end_ms,
                   text=e.text, planned=e.planned, interrupted=e.interrupted,
                   redactions=list(e.redactions))


class Transcript(BaseModel):
    call_id: str
    view: str = Field(description="redacted, or raw (permission transcripts.raw)")
    raw_available: bool
    lines: list[TranscriptLinePublic]


class EventPublic(BaseModel):
    seq: int
    type: str
    at: datetime
    offset_ms: int
    data: dict[str, Any]

    @classmethod
    def of(cls, e: TimelineEvent) -> EventPublic:
        return cls(seq=e.seq, type=e.type, at=e.at, offset_ms=e.offset_ms, data=e.data)


class TurnPublic(BaseModel):
    index: int
    e2e_ms: float | None
    stt_ms: float | None
    llm_ms: float | None
    tts_ms: float | None
    interrupted: bool

    @classmethod
    def of(cls, t: TurnLatency) -> TurnPublic:
        return cls(index=t.index, e2e_ms=t.e2e_ms, stt_ms=t.stt_ms, llm_ms=t.llm_ms,
                   tts_ms=t.tts_ms, interrupted=t.interrupted)


class EscalationPublic(BaseModel):
    queue: str
    reason: str
    status: str
    supervisor: str | None
    requested_at: datetime
    answered_at: datetime | None
    returned_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, e: EscalationView) -> EscalationPublic:
        return cls(queue=e.queue, reason=e.reason, status=e.status, supervisor=e.supervisor,
                   requested_at=e.requested_at, answered_at=e.answered_at,
                   returned_at=e.returned_at, ended_at=e.ended_at)


class CallDetailPublic(CallSummary):
    answered_at: datetime | None
    end_reason: str
    summary: str | None
    path: list[str]
    slots: dict[str, Any]
    events: list[EventPublic]
    turns: list[TurnPublic]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    interruptions: int
    escalations: list[EscalationPublic]
    transcript: Transcript

    @classmethod
    def of_detail(cls, d: CallDetail) -> CallDetailPublic:
        return cls(**CallSummary.of(d.row).model_dump(), answered_at=d.answered_at,
                   end_reason=d.end_reason, summary=d.summary, path=d.path, slots=d.slots,
                   events=[EventPublic.of(e) for e in d.events],
                   turns=[TurnPublic.of(t) for t in d.turns],
                   latency_p50_ms=d.latency_p50_ms, latency_p95_ms=d.latency_p95_ms,
                   interruptions=d.interruptions,
                   escalations=[EscalationPublic.of(e) for e in d.escalations],
                   transcript=transcript_of(d))


def transcript_of(d: CallDetail) -> Transcript:
    return Transcript(call_id=d.row.id, view=d.view, raw_available=d.raw_available,
                      lines=[TranscriptLinePublic.of(e) for e in d.transcript])
