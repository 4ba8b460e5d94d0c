"""The human part of a call: each escalation, who took it, how long, what they said, how
it ended (handed back to the AI, ended by the supervisor, abandoned in the queue, nobody
available).

Durations come from the timeline's media offsets (the clock the transcript uses), so they
agree with the transcript; the escalation rows' wall-clock times are the fallback for
calls whose timeline lacks the escalate node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from callcenter.models import CallEvent, Escalation, EscalationStatus, SpeakerRole
from callcenter.postcall.metrics import aware
from callcenter.postcall.transcript import TranscriptLine

MAX_SAID_CHARS = 160
# How an escalation ended, in the vocabulary of the summary and the disposition rules.
HANDED_BACK, BY_SUPERVISOR, CALLER_LEFT = "handed_back", "ended_by_supervisor", "caller_left"
IN_QUEUE, TIMED_OUT, UNAVAILABLE, OPEN = "abandoned_in_queue", "timed_out", "unavailable", "open"


@dataclass(slots=True)
class HumanPart:
    """One escalation as the record shows it."""

    queue: str = ""
    reason: str = ""
    supervisor: str | None = None
    taken: bool = False
    ended: str = OPEN  # one of the constants above
    wait_s: float | None = None  # from the request to a person answering (or giving up)
    talk_s: float | None = None  # from a person answering to hand-back or the end
    said: str = ""  # the supervisor's words, short and redacted
    coached: int = 0
    start_ms: int | None = None
    connected_ms: int | None = None
    end_ms: int | None = None
    notes: list[str] = field(default_factory=list)


def _spans(events: Sequence[CallEvent]) -> list[HumanPart]:
    """Escalations as the timeline tells them, one per escalate node entered or take-over.

    A take-over has its own escalation row (queue `take_over`), so it needs its own span:
    without it a call with a take-over and a queue escalation pairs each row with the
    wrong span. A take-over is answered the moment it starts: no wait.
    """
    spans: list[HumanPart] = []
    for e in events:
        current = spans[-1] if spans else None
        if e.type == "node_entered" and e.data.get("type") == "escalate":
            spans.append(HumanPart(start_ms=e.offset_ms))
        elif e.type == "taken_over":
            spans.append(HumanPart(supervisor=str(e.data.get("supervisor") or "") or None,
                                   taken=True, start_ms=e.offset_ms, connected_ms=e.offset_ms))
        elif current is None or current.end_ms is not None:
            continue
        elif e.type == "handoff_brief":
            current.queue = str(e.data.get("queue") or current.queue)
            current.reason = str(e.data.get("reason") or current.reason)
            current.supervisor = str(e.data.get("supervisor") or "") or current.supervisor
        elif e.type == "escalation":
            outcome = str(e.data.get("outcome", ""))
            current.supervisor = str(e.data.get("supervisor") or "") or current.supervisor
            if outcome == "connected":
                current.taken, current.connected_ms = True, e.offset_ms
            elif outcome in ("handed_back", "ended", "timeout", "unavailable"):
                current.ended = {"handed_back": HANDED_BACK, "ended": BY_SUPERVISOR,
                                 "timeout": TIMED_OUT, "unavailable": UNAVAILABLE}[outcome]
                current.end_ms = e.offset_ms
        elif e.type == "control_coach":
            current.coached += 1
        elif e.type == "control_hand_back" and e.data.get("note"):
            current.notes.append(str(e.data["note"]))
        elif e.type == "control_hangup":
            current.ended, current.end_ms = BY_SUPERVISOR, e.offset_ms
        elif e.type == "call_ended":
            current.ended = CALLER_LEFT if current.taken else IN_QUEUE
            current.end_ms = e.offset_ms
    return spans


def _from_row(part: HumanPart, row: Escalation) -> None:
    part.queue, part.reason = row.queue, row.reason or part.reason
    part.supervisor = row.supervisor or part.supervisor
    status = row.status
    part.taken = part.taken or row.answered_at is not None or status in (
        EscalationStatus.ACTIVE, EscalationStatus.HANDED_BACK, EscalationStatus.ENDED)
    # The row is written by the call itself at each step: it wins over the timeline's guess.
    if status == EscalationStatus.HANDED_BACK or row.returned_at is not None:
        part.ended = HANDED_BACK
    elif status == EscalationStatus.ABANDONED:
        part.ended = IN_QUEUE
    elif status == EscalationStatus.TIMED_OUT and part.ended != UNAVAILABLE:
        part.ended = TIMED_OUT
    elif status == EscalationStatus.ENDED and part.ended == OPEN:
        part.ended = BY_SUPERVISOR if part.taken else IN_QUEUE


def _row_seconds(row: Escalation) -> tuple[float | None, float | None]:
    start = aware(row.requested_at)
    answered = aware(row.answered_at) if row.answered_at else None
    end = row.returned_at or row.ended_at
    stop = aware(end) if end else None
    wait = (answered or stop or start) - start
    talk = (stop - answered) if answered and stop else None
    return round(wait.total_seconds(), 1), round(talk.total_seconds(), 1) if talk else None


def _said(part: HumanPart, lines: Sequence[TranscriptLine]) -> str:
    words: list[str] = []
    for line in lines:
        if line.speaker != SpeakerRole.SUPERVISOR or not line.text:
            continue
        if part.connected_ms is not None and line.start_ms < part.connected_ms - 1000:
            continue
        if part.end_ms is not None and line.start_ms > part.end_ms:
            continue
        words.extend(line.text.split())
    text = " ".join(words)
    if len(text) > MAX_SAID_CHARS:
        text = text[: MAX_SAID_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


def parts(
    events: Sequence[CallEvent],
    escalations: Sequence[Escalation],
    lines: Sequence[TranscriptLine],
) -> list[HumanPart]:
    """Every escalation of the call, oldest first. `lines` should be the redacted ones."""
    spans = _spans(events)
    out: list[HumanPart] = []
    for i, row in enumerate(escalations):
        part = spans[i] if i < len(spans) else HumanPart()
        _from_row(part, row)
        if part.start_ms is None:
            part.wait_s, part.talk_s = _row_seconds(row)
        out.append(part)
    # A timeline escalation with no row (a broker that never wrote one) still counts.
    out.extend(spans[len(escalations):])
    for part in out:
        if part.start_ms is not None:
            until = part.connected_ms if part.taken else part.end_ms
            if until is not None:
                part.wait_s = round((until - part.start_ms) / 1000, 1)
            if part.taken and part.connected_ms is not None and part.end_ms is not None:
                part.talk_s = round((part.end_ms - part.connected_ms) / 1000, 1)
        part.said = _said(part, lines) if part.taken else ""
    return out
