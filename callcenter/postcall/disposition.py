"""How a call ended (resolved, escalated, transferred, abandoned, failed), from facts.

The voice session and the flow runner write the facts; this module reads them. Inputs:

- `Call.status` (`failed`), `Call.end_reason`, `Call.answered_at`;
- `CallEvent.type` values: `escalated` / `escalation_requested` (data: queue, reason),
  `transferred` / `transfer` (data: to), `flow_completed` / `goal_reached`,
  `hangup` (data: by = caller | agent | supervisor | system), `error` (data: fatal);
- `Escalation` rows (a supervisor answered when `answered_at` is set);
- the caller's last words, when the caller hung up without the flow completing.

Facts beat opinions: an LLM may propose `resolved` or `abandoned`, but never overrides a
transfer, an escalation or a failure recorded here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.models import (
    Call,
    CallEvent,
    CallStatus,
    Disposition,
    Escalation,
    EscalationStatus,
    SpeakerRole,
)
from callcenter.postcall.transcript import TranscriptLine

FAILED_END_REASONS = {"error", "failed", "worker_lost", "media_timeout", "agent_error"}
RESOLVED_END_REASONS = {"agent_hangup", "completed", "flow_completed"}
CALLER_END_REASONS = {"caller_hangup", "participant_left", "client_initiated"}
ESCALATION_EVENTS = {"escalated", "escalation_requested"}
TRANSFER_EVENTS = {"transferred", "transfer"}
COMPLETION_EVENTS = {"flow_completed", "goal_reached"}
_UNANSWERED = {EscalationStatus.WAITING, EscalationStatus.RINGING}
_UNANSWERED |= {EscalationStatus.ABANDONED, EscalationStatus.TIMED_OUT}
_CLOSING = re.compile(
    r"\b(thanks|thank you|that's all|that is all|bye|goodbye|great|perfect|got it|"
    r"that helps|all set|appreciate)\b",
    re.IGNORECASE,
)


@dataclass(slots=True, frozen=True)
class DispositionResult:
    """The disposition, whether facts fixed it (an LLM may not change it), and why."""

    disposition: Disposition
    certain: bool
    reason: str


def decide(
    call: Call,
    events: Sequence[CallEvent],
    escalations: Sequence[Escalation],
    lines: Sequence[TranscriptLine],
) -> DispositionResult:
    """Apply the rules in order; the first that matches decides."""
    types = {e.type for e in events}
    fatal = any(e.type == "error" and bool(e.data.get("fatal")) for e in events)
    if call.status == CallStatus.FAILED or call.end_reason in FAILED_END_REASONS or fatal:
        why = call.end_reason or ("fatal error event" if fatal else "call status failed")
        return DispositionResult(Disposition.FAILED, True, f"failed: {why}")
    if types & TRANSFER_EVENTS or call.end_reason == "transferred":
        return DispositionResult(Disposition.TRANSFERRED, True, "transfer event")
    if escalations:
        if any(e.answered_at is not None or e.status not in _UNANSWERED for e in escalations):
            return DispositionResult(Disposition.ESCALATED, True, "a supervisor took the call")
        return DispositionResult(
            Disposition.ABANDONED, True, "caller hung up while waiting for a supervisor"
        )
    if types & ESCALATION_EVENTS:
        return DispositionResult(Disposition.ESCALATED, True, "escalation event")
    caller_lines = [line for line in lines if line.speaker == SpeakerRole.CALLER and line.text]
    if call.answered_at is None or not caller_lines:
        return DispositionResult(Disposition.ABANDONED, True, "caller never spoke to the agent")
    if types & COMPLETION_EVENTS or call.end_reason in RESOLVED_END_REASONS:
        return DispositionResult(Disposition.RESOLVED, False, "flow completed")
    caller_hung_up = call.end_reason in CALLER_END_REASONS or any(
        e.type == "hangup" and e.data.get("by") == "caller" for e in events
    )
    if caller_hung_up:
        last_words = " ".join(line.text for line in caller_lines[-2:])
        if _CLOSING.search(last_words):
            return DispositionResult(Disposition.RESOLVED, False, "caller closed politely")
        return DispositionResult(
            Disposition.ABANDONED, False, "caller hung up before the flow completed"
        )
    return DispositionResult(Disposition.RESOLVED, False, "ended normally")
