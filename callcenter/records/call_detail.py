"""One stored call in full: transcript, keypad, path, slots, timeline, latency, escalations.

The transcript is the redacted one unless the raw one is asked for; the caller of
`call_detail` decides who may ask (the permission `transcripts.raw`). Before post-call
processing has stored a transcript, the redacted view is redacted here, with the same rules,
so a call never shows unredacted text by default. Event data (slot values, what the caller
typed or said) is redacted the same way in the redacted view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from callcenter.accounts.times import as_utc
from callcenter.models import Call, CallEvent, CallTranscript, Escalation, Utterance
from callcenter.postcall.redact import RedactionConfig, redact_lines, redact_text
from callcenter.postcall.transcript import TranscriptLine, assemble
from callcenter.records.calls import CallRow, call_row

REDACTED, RAW = "redacted", "raw"


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """A line of the call page: something said, or keys pressed on the keypad."""

    kind: str  # speech | keypad
    speaker: str  # caller | agent | supervisor
    start_ms: int
    end_ms: int
    text: str  # what was said; for an interrupted agent line, what the caller heard
    planned: str | None = None  # the agent's full intended line, when it was cut off
    interrupted: bool = False
    redactions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    seq: int
    type: str
    at: datetime
    offset_ms: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TurnLatency:
    """One answered caller turn (ms); None where the pipeline did not measure that part."""

    index: int
    e2e_ms: float | None
    stt_ms: float | None = None
    llm_ms: float | None = None
    tts_ms: float | None = None
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class EscalationView:
    queue: str
    reason: str
    status: str
    supervisor: str | None
    requested_at: datetime
    answered_at: datetime | None
    returned_at: datetime | None
    ended_at: datetime | None

    @property
    def wait_s(self) -> float | None:
        if self.answered_at is None:
            return None
        return (self.answered_at - self.requested_at).total_seconds()


@dataclass(frozen=True, slots=True)
class CallDetail:
    row: CallRow
    answered_at: datetime | None
    end_reason: str
    summary: str | None
    transcript: list[TranscriptEntry]
    view: str  # redacted | raw
    raw_available: bool
    processed: bool  # post-call processing stored its transcript
    path: list[str]
    slots: dict[str, Any]
    events: list[TimelineEvent]
    turns: list[TurnLatency]
    escalations: list[EscalationView]
    interruptions: int
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    postcall: dict[str, Any] = field(default_factory=dict)


def call_detail(db: Session, call_id: str, *, raw: bool = False,
                redaction: RedactionConfig | None = None,
                keep_raw: bool = False) -> CallDetail | None:
    """Everything about one call, or None. `raw` asks for the unredacted transcript where
    it is kept (`keep_raw`: the raw transcript setting, for calls not processed yet)."""
    row = call_row(db, call_id)
    call = db.get(Call, call_id)
    if row is None or call is None:
        return None
    cfg = redaction or RedactionConfig()
    stored = db.get(CallTranscript, call_id)
    events = list(db.exec(select(CallEvent).where(col(CallEvent.call_id) == call_id)
                          .order_by(col(CallEvent.seq))).all())
    raw_available = (stored.data is not None) if stored is not None else keep_raw
    view = RAW if raw and raw_available else REDACTED
    speech = _speech(db, call_id, stored, view, cfg)
    # Post-call stores keypad lines in the transcript itself (masked where the slot is
    # sensitive); only a call not processed yet needs them made from the timeline.
    stored_keys = any(e.kind == "keypad" for e in speech)
    keypad = [] if stored_keys else _keypad(events, redact=view == REDACTED, cfg=cfg)
    transcript = sorted(speech + keypad, key=lambda e: (e.start_ms, e.kind == "keypad"))
    timeline = [TimelineEvent(e.seq, e.type, as_utc(e.at), e.offset_ms,
                              e.data if view == RAW else _redact_value(e.data, cfg))
                for e in events]
    metrics = call.metrics or {}
    turns = _turns(metrics.get("turns"))
    e2e = sorted(t.e2e_ms for t in turns if t.e2e_ms is not None)
    return CallDetail(
        row=row,
        answered_at=as_utc(call.answered_at) if call.answered_at else None,
        end_reason=call.end_reason,
        summary=call.summary,
        transcript=transcript,
        view=view,
        raw_available=raw_available,
        processed=stored is not None,
        path=_path(metrics, events),
        slots=_slots(timeline),
        events=timeline,
        turns=turns,
        escalations=_escalations(db, call_id),
        interruptions=sum(1 for e in transcript if e.interrupted),
        latency_p50_ms=_quantile(e2e, 0.5),
        latency_p95_ms=_quantile(e2e, 0.95),
        postcall=dict(metrics.get("postcall") or {}),
    )


def _speech(db: Session, call_id: str, stored: CallTranscript | None, view: str,
            cfg: RedactionConfig) -> list[TranscriptEntry]:
    if stored is not None:
        data = stored.data if view == RAW else stored.redacted_data
        return [_from_json(item) for item in data or []]
    utterances = db.exec(select(Utterance).where(col(Utterance.call_id) == call_id)
                         .order_by(col(Utterance.seq))).all()
    lines = assemble(utterances)
    if view == REDACTED:
        lines = redact_lines(lines, cfg)
    return [_from_line(line) for line in lines]


def _from_line(line: TranscriptLine) -> TranscriptEntry:
    return TranscriptEntry(
        kind="speech", speaker=line.speaker, start_ms=line.start_ms, end_ms=line.end_ms,
        text=line.shown_text, planned=line.text if line.interrupted else None,
        interrupted=line.interrupted, redactions=line.redactions)


def _from_json(item: dict[str, Any]) -> TranscriptEntry:
    """A line of the stored transcript JSON (postcall.transcript.to_json)."""
    interrupted = bool(item.get("interrupted"))
    return TranscriptEntry(
        kind=str(item.get("kind", "speech")), speaker=str(item.get("speaker", "")),
        start_ms=int(item.get("start_ms", 0)), end_ms=int(item.get("end_ms", 0)),
        text=str(item.get("text", "")),
        planned=str(item["intended_text"]) if interrupted and "intended_text" in item else None,
        interrupted=interrupted, redactions=tuple(item.get("redactions", ())))


def _keypad(events: list[CallEvent], *, redact: bool,
            cfg: RedactionConfig) -> list[TranscriptEntry]:
    """Keys the caller pressed, as their own transcript lines (the runner's caller_input)."""
    out = []
    for e in events:
        if e.type != "caller_input" or not e.data.get("dtmf"):
            continue
        keys = str(e.data.get("text", ""))
        out.append(TranscriptEntry(kind="keypad", speaker="caller", start_ms=e.offset_ms,
                                   end_ms=e.offset_ms,
                                   text=redact_text(keys, cfg) if redact else keys))
    return out


def _redact_value(value: Any, cfg: RedactionConfig) -> Any:
    if isinstance(value, str):
        return redact_text(value, cfg)
    if isinstance(value, dict):
        return {k: _redact_value(v, cfg) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, cfg) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 10**5:
        # A long number stored as a number (an account id, a card) is digits all the same.
        return redact_text(str(value), cfg)
    return value


def _path(metrics: dict[str, Any], events: list[CallEvent]) -> list[str]:
    path = metrics.get("path")
    if isinstance(path, list) and path:
        return [str(p) for p in path]
    return [str(e.data.get("node")) for e in events if e.type == "node_entered"]


def _slots(events: list[TimelineEvent]) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    for e in events:
        if e.type == "slot_set" and "slot" in e.data:
            slots[str(e.data["slot"])] = e.data.get("value")
    return slots


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _turns(raw: Any) -> list[TurnLatency]:
    if not isinstance(raw, list):
        return []
    out = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            continue
        out.append(TurnLatency(index=i + 1, e2e_ms=_num(t.get("e2e_ms")),
                               stt_ms=_num(t.get("stt_final_latency_ms")),
                               llm_ms=_num(t.get("llm_ttft_ms")),
                               tts_ms=_num(t.get("tts_ttfb_ms")),
                               interrupted=bool(t.get("interrupted"))))
    return out


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _escalations(db: Session, call_id: str) -> list[EscalationView]:
    rows = db.exec(select(Escalation).where(col(Escalation.call_id) == call_id)
                   .order_by(col(Escalation.requested_at))).all()
    return [EscalationView(
        queue=r.queue, reason=r.reason, status=r.status, supervisor=r.supervisor,
        requested_at=as_utc(r.requested_at),
        answered_at=as_utc(r.answered_at) if r.answered_at else None,
        returned_at=as_utc(r.returned_at) if r.returned_at else None,
        ended_at=as_utc(r.ended_at) if r.ended_at else None) for r in rows]
