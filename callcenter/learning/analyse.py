"""What one escalated or transferred call teaches, read from its timeline and redacted transcript.

The timeline says where the AI stopped (the node of the caller's last input before the
escalation), why (handler, intent, tool call, failure events), where the call went on after
the person handed back, and whether it was transferred. The words come only from the redacted
transcript: raw utterances are used just to find which transcript lines were the caller's
inputs at that node.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from callcenter.flow.nodes import EscalateNode
from callcenter.flow.schema import Flow
from callcenter.learning.privacy import scrub
from callcenter.learning.text import normalize, without_greeting
from callcenter.models import CallEvent, Escalation, Utterance

REASONS = ("no_match", "out_of_domain", "asked_for_person", "frustration", "tool_failure",
           "no_path")
_FRUSTRATED = re.compile(r"frustrat|angry|upset|complain|annoy", re.IGNORECASE)
_PERSON = re.compile(r"\b(person|human|someone|agent|manager|supervisor)\b", re.IGNORECASE)


@dataclass(slots=True)
class Line:
    """One redacted transcript line used as evidence."""

    seq: int
    speaker: str
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "speaker": self.speaker, "text": self.text}


@dataclass(slots=True)
class Learning:
    """The call's lesson: need, why the AI could not handle it, what the person did, outcome."""

    call_id: str
    flow: str
    flow_version: int | None
    node: str = ""
    need_lines: list[Line] = field(default_factory=list)
    reason: str = "no_path"
    action: str = "none"  # answered | routed | transferred | ended | none
    answer_lines: list[Line] = field(default_factory=list)
    resume_at: str | None = None
    default_next: str | None = None  # where a hand-back goes unless the person picks a node
    escalated_to: str | None = None  # the escalate node the call went to, if it did
    outcome: str = ""

    @property
    def need(self) -> str:
        return " ".join(line.text for line in self.need_lines)

    @property
    def answer(self) -> str:
        return without_greeting(" ".join(line.text for line in self.answer_lines))


@dataclass(slots=True)
class CallRows:
    """The stored rows of one call that learning reads."""

    call_id: str
    flow: Flow | None
    flow_version: int | None
    events: Sequence[CallEvent]
    escalations: Sequence[Escalation]
    utterances: Sequence[Utterance]
    # The redacted transcript (`CallTranscript.redacted_data`): seq, speaker, text.
    redacted: Sequence[dict[str, Any]]


def needs_learning(escalations: Sequence[Escalation], events: Sequence[CallEvent]) -> bool:
    """Did a person take this call, or was it transferred away?"""
    return bool(escalations) or any(e.type in ("transferred", "control_transfer") for e in events)


def analyse(rows: CallRows) -> Learning:
    """The lesson of one call (pure: the same rows give the same lesson)."""
    events = list(rows.events)
    learning = Learning(call_id=rows.call_id, flow=rows.flow.name if rows.flow else "",
                        flow_version=rows.flow_version)
    cut = _handover(events)
    before = events[: cut if cut is not None else len(events)]
    inputs = [e for e in before if e.type == "caller_input" and not e.data.get("dtmf")]
    learning.node = str(inputs[-1].data.get("node") or "") if inputs else ""
    at_node = _streak(inputs, learning.node)
    redacted = {int(item.get("seq", -1)): item for item in rows.redacted}
    learning.need_lines = _caller_lines(at_node, rows.utterances, redacted)
    learning.reason = _reason(before, learning.node)
    after = events[cut:] if cut is not None else []
    learning.resume_at = _resumed_at(after)
    esc_node = _escalate_node(rows, cut)
    learning.default_next = esc_node.next if esc_node is not None else None
    learning.escalated_to = _escalate_node_name(rows, cut)
    learning.answer_lines = [
        Line(int(item["seq"]), "supervisor", scrub(str(item.get("text", ""))))
        for item in rows.redacted if item.get("speaker") == "supervisor" and item.get("text")]
    learning.action, learning.outcome = _what_was_done(learning, after, rows)
    return learning


def _handover(events: Sequence[CallEvent]) -> int | None:
    """Index of the moment the AI handed the call over: entering an escalate or transfer node
    (the flow's own record of the request may be journaled later), else the request itself."""
    for i, e in enumerate(events):
        if e.type == "node_entered" and e.data.get("type") in ("escalate", "transfer"):
            return i
    return next((i for i, e in enumerate(events)
                 if e.type in ("escalation_requested", "transferred")), None)


def _streak(inputs: list[CallEvent], node: str) -> list[CallEvent]:
    """The caller's last run of inputs at `node` (earlier visits are other business)."""
    out: list[CallEvent] = []
    for event in reversed(inputs):
        if event.data.get("node") != node:
            break
        out.insert(0, event)
    return out


def _caller_lines(inputs: list[CallEvent], utterances: Sequence[Utterance],
                  redacted: dict[int, dict[str, Any]]) -> list[Line]:
    """The redacted transcript lines of these inputs, matched through the raw utterances."""
    out: list[Line] = []
    used: set[int] = set()
    callers = [u for u in utterances if u.speaker_role == "caller"]
    for event in inputs:
        said = normalize(str(event.data.get("text", "")))
        match = next((u for u in callers if u.seq not in used and normalize(u.text) == said),
                     None)
        if match is None or match.seq not in redacted:
            continue
        used.add(match.seq)
        text = scrub(str(redacted[match.seq].get("text", "")))
        if text:
            out.append(Line(match.seq, "caller", text))
    return out


def _reason(before: list[CallEvent], node: str) -> str:
    """Why the AI handed over, from the last events before the escalation."""
    for event in reversed(before):
        data = event.data
        if event.type == "handler" and data.get("handler") == "human_request":
            return "asked_for_person"
        if event.type == "intent" and data.get("intent") == "human_request":
            return "asked_for_person"
        if event.type == "intent" and _FRUSTRATED.search(str(data.get("intent", ""))):
            return "frustration"
        if event.type == "tool_call" and data.get("tool") == "escalate":
            why = str((data.get("arguments") or {}).get("reason", ""))
            if _FRUSTRATED.search(why):
                return "frustration"
            return "asked_for_person" if _PERSON.search(why) else "out_of_domain"
        if event.type == "provider_failure" or (
                event.type == "webhook_result" and not data.get("ok", True)):
            return "tool_failure"
        if event.type in ("no_match", "retries_exhausted") or (
                event.type == "handler" and data.get("handler") == "no_match"):
            return "no_match"
        if event.type == "caller_input" and data.get("node") == node:
            break
    return "no_path"


def _resumed_at(after: list[CallEvent]) -> str | None:
    """The node the call went on at after the person handed back."""
    handed = next((i for i, e in enumerate(after) if e.type == "escalation"
                   and e.data.get("outcome") == "handed_back"), None)
    if handed is None:
        return None
    entered = next((e for e in after[handed:] if e.type == "node_entered"), None)
    return str(entered.data.get("node")) if entered is not None else None


def _what_was_done(learning: Learning, after: list[CallEvent], rows: CallRows) -> tuple[str, str]:
    esc = rows.escalations[-1] if rows.escalations else None
    transferred = any(e.type in ("transferred", "control_transfer") for e in after)
    outcome = "transferred" if transferred else (esc.status if esc is not None else "ended")
    if transferred:
        return "transferred", outcome
    if learning.resume_at and learning.resume_at != learning.default_next:
        return "routed", outcome
    if learning.answer_lines:
        return "answered", outcome
    return ("ended" if outcome == "ended" else "none"), outcome


def _escalate_node(rows: CallRows, cut: int | None) -> EscalateNode | None:
    name = _escalate_node_name(rows, cut)
    node = rows.flow.nodes.get(name) if rows.flow is not None and name else None
    return node if isinstance(node, EscalateNode) else None


def _escalate_node_name(rows: CallRows, cut: int | None) -> str | None:
    """The first escalate node entered from the hand-over on."""
    if rows.flow is None or cut is None:
        return None
    for event in list(rows.events)[cut:]:
        if event.type == "node_entered":
            name = str(event.data.get("node"))
            if isinstance(rows.flow.nodes.get(name), EscalateNode):
                return name
    return None

