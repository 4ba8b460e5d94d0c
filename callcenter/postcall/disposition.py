"""How a call ended, from its facts (see `postcall.facts` and `postcall.human`).

The rules, first match wins:

1. failed: `Call.status` failed, a failure end reason, or a fatal `error` event;
2. transferred: a `transferred` event (or end reason);
3. a person took the call: handed back and the AI finished -> resolved_after_handback
   (the caller hanging up on the AI afterwards without a closing word -> abandoned);
   otherwise resolved_by_supervisor;
4. nobody took it: the caller hung up waiting -> abandoned_in_queue; nobody answered or
   nobody was available, then the flow saved a callback -> callback, the flow ended the
   call ("everyone is busy") -> no_supervisor, the caller hung up on the AI -> abandoned;
5. a callback request saved by the flow (a webhook node or a node named like
   `callback_saved`) -> callback; one the flow could not save -> failed;
6. the caller never said or keyed anything -> abandoned;
7. the flow ended the call -> resolved; the caller hung up with a closing word ->
   resolved; otherwise abandoned.

Facts beat opinions: `certain` results are never changed by an LLM; the others (the
caller hung up, or the flow just ended) may be, to resolved or abandoned only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.models import Call, CallEvent, CallStatus, Disposition, SpeakerRole
from callcenter.postcall import human
from callcenter.postcall.facts import CallFacts
from callcenter.postcall.transcript import KEYPAD, TranscriptLine

FAILED_END_REASONS = {"error", "failed", "worker_lost", "media_timeout", "agent_error"}
RESOLVED_END_REASONS = {"agent_hangup", "completed", "flow_completed"}
CALLER_END_REASONS = {"caller_hangup", "participant_left", "client_initiated"}
TRANSFER_EVENTS = {"transferred", "transfer"}
COMPLETION_EVENTS = {"flow_completed", "goal_reached"}
# What an LLM may propose instead of an uncertain result: never a fact it cannot see.
LLM_MAY_PROPOSE = frozenset({Disposition.RESOLVED, Disposition.ABANDONED})
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


def _result(disposition: Disposition, reason: str, certain: bool = True) -> DispositionResult:
    return DispositionResult(disposition, certain, reason)


def _caller_closed(lines: Sequence[TranscriptLine], after_ms: int = -1) -> bool:
    said = [ln.text for ln in lines
            if ln.speaker == SpeakerRole.CALLER and ln.kind != KEYPAD and ln.start_ms >= after_ms]
    return bool(_CLOSING.search(" ".join(said[-2:])))


def _flow_ended(call: Call, events: Sequence[CallEvent], facts: CallFacts) -> bool:
    return (facts.completed or call.end_reason in RESOLVED_END_REASONS
            or any(e.type in COMPLETION_EVENTS for e in events))


def _after_human(call: Call, events: Sequence[CallEvent], facts: CallFacts,
                 lines: Sequence[TranscriptLine]) -> DispositionResult | None:
    taken = [p for p in facts.humans if p.taken]
    if taken:
        last = taken[-1]
        who = last.supervisor or "a supervisor"
        if last.ended != human.HANDED_BACK:
            how = "the caller hung up" if last.ended == human.CALLER_LEFT else "the call ended"
            return _result(Disposition.RESOLVED_BY_SUPERVISOR, f"{who} took the call; {how}")
        if facts.callback_saved is not None:
            return _result(Disposition.CALLBACK, f"{who} handed back; a callback was saved")
        if _flow_ended(call, events, facts) or _caller_closed(lines, last.end_ms or -1):
            return _result(Disposition.RESOLVED_AFTER_HANDBACK,
                           f"{who} handed back; the AI finished the call")
        return _result(Disposition.ABANDONED, f"{who} handed back; the caller hung up on the AI")
    if not facts.humans:
        return None
    if any(p.ended == human.IN_QUEUE for p in facts.humans):
        return _result(Disposition.ABANDONED_IN_QUEUE,
                       "caller hung up while waiting for a supervisor")
    nobody = "no supervisor answered" if facts.humans[-1].ended == human.TIMED_OUT else \
        "no supervisor was available"
    if facts.callback_saved is not None:
        return _result(Disposition.CALLBACK, f"{nobody}; a callback was saved")
    if _flow_ended(call, events, facts):
        return _result(Disposition.NO_SUPERVISOR, f"{nobody}; the agent ended the call")
    return _result(Disposition.ABANDONED, f"{nobody}; the caller hung up on the AI")


def decide(
    call: Call,
    events: Sequence[CallEvent],
    facts: CallFacts,
    lines: Sequence[TranscriptLine],
) -> DispositionResult:
    """Apply the rules in order (module docstring); the first that matches decides."""
    fatal = any(e.type == "error" and bool(e.data.get("fatal")) for e in events)
    if call.status == CallStatus.FAILED or call.end_reason in FAILED_END_REASONS or fatal:
        why = call.end_reason or ("fatal error event" if fatal else "call status failed")
        return _result(Disposition.FAILED, f"failed: {why}")
    if facts.transferred_to is not None or any(e.type in TRANSFER_EVENTS for e in events) \
            or call.end_reason == "transferred":
        return _result(Disposition.TRANSFERRED, "transfer event")
    human_result = _after_human(call, events, facts, lines)
    if human_result is not None:
        return human_result
    if facts.callback_saved is not None:
        return _result(Disposition.CALLBACK, f"callback saved by {facts.callback_saved.name}")
    if facts.callback_failed:
        return _result(Disposition.FAILED, "the callback request could not be saved")
    if call.answered_at is None or not facts.caller_spoke:
        return _result(Disposition.ABANDONED, "caller never spoke to the agent")
    if _flow_ended(call, events, facts):
        return _result(Disposition.RESOLVED, "flow completed", certain=False)
    caller_hung_up = call.end_reason in CALLER_END_REASONS or any(
        e.type == "hangup" and e.data.get("by") == "caller" for e in events
    )
    if caller_hung_up:
        if _caller_closed(lines):
            return _result(Disposition.RESOLVED, "caller closed politely", certain=False)
        return _result(Disposition.ABANDONED, "caller hung up before the flow completed",
                       certain=False)
    return _result(Disposition.RESOLVED, "ended normally", certain=False)
