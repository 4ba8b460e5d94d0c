"""From a call's stored rows to its post-call record (the body of the `process_call` task).

Pure computation over what it loads: the same inputs give the same record, which is what
makes re-running a call safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from callcenter.config import Settings
from callcenter.models import Call, CallEvent, Disposition, Escalation, Utterance
from callcenter.postcall import disposition as rules
from callcenter.postcall import facts, keypad, metrics, sentiment, summary
from callcenter.postcall.heard_again import apply_heard_again
from callcenter.postcall.metrics import aware
from callcenter.postcall.redact import RedactionConfig, redact_lines
from callcenter.postcall.store import PostcallRecord
from callcenter.postcall.transcript import TranscriptLine, assemble, render_text, to_json
from callcenter.speech import LLM

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CallData:
    """The rows post-call processing reads for one call."""

    call: Call
    utterances: list[Utterance]
    events: list[CallEvent]
    escalations: list[Escalation]


def load(engine: Engine, call_id: str) -> CallData | None:
    """Everything about one call, or None if there is no such call."""
    with Session(engine, expire_on_commit=False) as session:
        call = session.get(Call, call_id)
        if call is None:
            return None
        utterances = session.exec(
            select(Utterance).where(Utterance.call_id == call_id).order_by(col(Utterance.seq))
        ).all()
        events = session.exec(
            select(CallEvent).where(CallEvent.call_id == call_id).order_by(col(CallEvent.seq))
        ).all()
        escalations = session.exec(
            select(Escalation)
            .where(Escalation.call_id == call_id)
            .order_by(col(Escalation.requested_at))
        ).all()
        session.expunge_all()
    return CallData(call, list(utterances), list(events), list(escalations))


def ended_at(data: CallData) -> datetime:
    """When the call ended; for a call whose end was never recorded, its last utterance."""
    if data.call.ended_at is not None:
        return aware(data.call.ended_at)
    last = max((u.end_ms for u in data.utterances), default=0)
    return aware(data.call.answered_at or data.call.started_at) + timedelta(milliseconds=last)


def summarize_with_llm(llm: LLM, facts: Sequence[str], transcript: str) -> summary.LLMSummary:
    """Run the LLM summary to completion (tasks are synchronous)."""

    async def run() -> summary.LLMSummary:
        try:
            return await summary.llm_summary(llm, facts, transcript)
        finally:
            await llm.aclose()

    return asyncio.run(run())


def transcript_lines(data: CallData) -> list[TranscriptLine]:
    """The call's transcript: what was said and what was keyed, in time order."""
    spoken = apply_heard_again(assemble(data.utterances), data.events)
    return keypad.merge(spoken, keypad.keypad_lines(data.events))


def build_record(
    data: CallData, settings: Settings, *, llm: LLM | None = None
) -> tuple[PostcallRecord, str]:
    """The record for one call, and where its summary came from (llm | offline | note)."""
    cfg = RedactionConfig.from_settings(settings)
    lines = transcript_lines(data)
    redacted = redact_lines(lines, cfg)
    known = facts.gather(data.events, data.escalations, lines, cfg, redacted)
    decided = rules.decide(data.call, data.events, known, lines)
    disposition = decided.disposition
    source = "offline"
    text: str | None = None
    if llm is not None:
        try:
            proposed = summarize_with_llm(
                llm, summary.fact_lines(known, disposition, decided.reason), render_text(redacted)
            )
        except summary.SummaryFormatError as exc:
            log.warning("call %s: LLM summary unusable (%s); using offline", data.call.id, exc)
            source = "offline (LLM answer unusable)"
        else:
            text = proposed.summary
            source = "llm"
            if (proposed.disposition in rules.LLM_MAY_PROPOSE and not decided.certain):
                disposition = proposed.disposition
    if text is None:
        # A certain rule's reason repeats the facts already stated; a guess says what it is.
        detail = decided.reason if not decided.certain or disposition == Disposition.FAILED else ""
        text = summary.offline_summary(known, disposition, detail)
    mood = sentiment.analyse(lines)
    end = ended_at(data)
    values = metrics.compute(data.call, lines, data.escalations, disposition, end)
    values["sentiment_trend"] = mood.trend
    values["sentiment_direction"] = mood.direction
    values["disposition_reason"] = decided.reason
    values["summary_source"] = source
    keep_raw = settings.keep_raw_transcript
    record = PostcallRecord(
        call_id=data.call.id,
        raw_text=render_text(lines) if keep_raw else None,
        raw_json=to_json(lines) if keep_raw else None,
        redacted_text=render_text(redacted),
        redacted_json=to_json(redacted),
        summary=text,
        disposition=disposition.value,
        sentiment=mood.score,
        metrics=values,
    )
    return record, source
