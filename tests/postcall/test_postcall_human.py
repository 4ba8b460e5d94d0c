"""The human part of a call read from its timeline: take-overs and queue escalations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from callcenter.models import CallEvent, Escalation, EscalationStatus, SpeakerRole
from callcenter.postcall.human import BY_SUPERVISOR, HANDED_BACK, parts
from callcenter.postcall.transcript import TranscriptLine

T0 = dt.datetime(2026, 12, 2, 13, tzinfo=dt.UTC)


def _timeline(*entries: tuple[int, str, dict[str, Any]]) -> list[CallEvent]:
    return [CallEvent(call_id="c-1", seq=i, type=type_, offset_ms=ms, data=data,
                      at=T0 + dt.timedelta(milliseconds=ms))
            for i, (ms, type_, data) in enumerate(entries)]


def _row(queue: str, status: EscalationStatus, supervisor: str, *, requested_s: float,
         answered_s: float, done_s: float) -> Escalation:
    def at(seconds: float) -> dt.datetime:
        return T0 + dt.timedelta(seconds=seconds)

    return Escalation(call_id="c-1", queue=queue, status=status, supervisor=supervisor,
                      requested_at=at(requested_s), answered_at=at(answered_s),
                      returned_at=at(done_s) if status == EscalationStatus.HANDED_BACK
                      else None,
                      ended_at=at(done_s) if status == EscalationStatus.ENDED else None)


def _line(speaker: str, start_ms: int, text: str) -> TranscriptLine:
    return TranscriptLine(seq=start_ms, speaker=speaker, identity=speaker, start_ms=start_ms,
                          end_ms=start_ms + 1500, text=text)


def test_a_take_over_then_a_queue_escalation_are_two_parts_each_with_its_own_times() -> None:
    events = _timeline(
        (0, "node_entered", {"node": "greet", "type": "say"}),
        (10_000, "taken_over", {"node": "billing_agent", "supervisor": "sam"}),
        (10_050, "handoff_brief", {"queue": "take_over", "reason": "taken over by sam"}),
        (40_000, "escalation", {"node": "billing_agent", "outcome": "handed_back",
                                "supervisor": "sam", "taken_over": True}),
        (60_000, "node_entered", {"node": "to_human", "type": "escalate"}),
        (75_000, "escalation", {"node": "to_human", "outcome": "connected",
                                "supervisor": "kim"}),
        (75_050, "handoff_brief", {"queue": "support", "reason": "Caller needs a person."}),
        (120_000, "escalation", {"node": "to_human", "outcome": "ended", "supervisor": "kim"}),
    )
    rows = [
        _row("take_over", EscalationStatus.HANDED_BACK, "sam",
             requested_s=10, answered_s=10, done_s=40),
        _row("support", EscalationStatus.ENDED, "kim",
             requested_s=60, answered_s=75, done_s=120),
    ]
    lines = [_line(SpeakerRole.SUPERVISOR, 12_000, "Hi, this is Sam."),
             _line(SpeakerRole.SUPERVISOR, 80_000, "Kim here, let me look.")]
    took, queued = parts(events, rows, lines)

    assert (took.queue, took.supervisor, took.taken, took.ended) == (
        "take_over", "sam", True, HANDED_BACK)
    assert (took.wait_s, took.talk_s, took.said) == (0.0, 30.0, "Hi, this is Sam.")
    assert (queued.queue, queued.supervisor, queued.ended) == ("support", "kim", BY_SUPERVISOR)
    assert (queued.wait_s, queued.talk_s, queued.said) == (15.0, 45.0, "Kim here, let me look.")


def test_a_take_over_alone_is_one_part_even_without_its_row() -> None:
    events = _timeline(
        (5_000, "taken_over", {"node": "ask_date", "supervisor": "sam"}),
        (20_000, "call_ended", {}),
    )
    (part,) = parts(events, [], [])
    assert (part.supervisor, part.taken, part.wait_s, part.talk_s) == ("sam", True, 0.0, 15.0)
