"""What happened on a call, read from its own record: the timeline, the escalation rows and
the transcript. The summary and the disposition are both written from these facts.

Every value that could carry personal data goes through the same redaction as the
transcript (and sensitive slots are masked outright), so facts are safe to store, to show
and to hand to an LLM.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from callcenter.models import CallEvent, Escalation, SpeakerRole
from callcenter.postcall import human
from callcenter.postcall.human import HumanPart
from callcenter.postcall.redact import RedactionConfig, redact_text
from callcenter.postcall.sensitive import MASK, is_sensitive
from callcenter.postcall.transcript import KEYPAD, TranscriptLine

MAX_VALUE_CHARS = 60
# Tools the runner handles itself: they are routes, not things the agent did for the caller.
_BUILTIN_TOOLS = {"escalate", "end_conversation"}
_CALLBACK = re.compile(r"call_?back", re.I)
_CALLBACK_DONE = re.compile(r"saved|booked|scheduled|requested|created|confirmed", re.I)
_CALLBACK_FAILED = re.compile(r"fail|error|unavailable", re.I)


@dataclass(slots=True, frozen=True)
class Fact:
    """A named value as it may be shown (masked or redacted already)."""

    name: str
    value: str


@dataclass(slots=True, frozen=True)
class Action:
    """Something the agent did for the caller: a webhook node or a tool, and its result."""

    kind: str  # webhook | tool
    name: str
    ok: bool | None
    detail: str  # HTTP status or error
    saved: tuple[Fact, ...] = ()


@dataclass(slots=True)
class CallFacts:
    """The facts post-call work reads (see module docstring)."""

    flow: str = ""
    need: str = ""  # the caller's first stated need, as a sentence fragment
    slots: list[Fact] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    humans: list[HumanPart] = field(default_factory=list)
    closed_hours: bool = False
    transferred_to: str | None = None
    callback_saved: Action | None = None
    callback_failed: bool = False
    completed: bool = False  # the flow ended the call itself (a hangup node, end_conversation)
    end_node: str | None = None
    caller_spoke: bool = False  # said or keyed anything at all
    keypad_entries: int = 0


def humanize(name: str) -> str:
    """`callback_number` -> `callback number`."""
    return re.sub(r"[_\-]+", " ", name).strip()


def shown(name: str, value: Any, cfg: RedactionConfig) -> str:
    """A slot or variable value as a summary may show it."""
    if is_sensitive(name):
        return MASK
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = " ".join(str(value).split()) if value is not None else ""
    text = redact_text(text, cfg, context=humanize(name))
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


def _node_types(events: Sequence[CallEvent]) -> dict[str, str]:
    return {
        str(e.data.get("node")): str(e.data.get("type"))
        for e in events
        if e.type == "node_entered" and e.data.get("type")
    }


def _need(events: Sequence[CallEvent], types: dict[str, str], cfg: RedactionConfig) -> str:
    """The caller's first need: a menu choice, an intent, a request for a person, or what
    they first asked an agent node."""
    for e in events:
        node = str(e.data.get("node", ""))
        if e.type == "slot_set" and types.get(node) == "menu":
            value = shown(str(e.data.get("slot", "")), e.data.get("value"), cfg)
            return f"chose {value} at the {humanize(node)}"
        if e.type == "intent" or (e.type == "handler" and e.data.get("handler") == "human_request"):
            intent = str(e.data.get("intent") or e.data.get("handler") or "")
            if intent == "human_request":
                return "asked for a person"
            return f"wanted {humanize(intent)}"
        if e.type == "handoff_brief" and e.data.get("agent_reason"):
            return "needed help: " + shown("reason", e.data["agent_reason"], cfg)
        if e.type == "caller_input" and types.get(node) == "agent" and not e.data.get("dtmf"):
            asked = shown("question", e.data.get("text", ""), cfg).rstrip(".!?,")
            return f"asked: “{asked}”"
    return ""


def _said_first(lines: Sequence[TranscriptLine]) -> str:
    """For a call with no flow facts at all: the caller's first real sentence, redacted."""
    for line in lines:
        if line.speaker == SpeakerRole.CALLER and line.kind != KEYPAD:
            words = line.text.split()
            if len(words) >= 4:
                text = " ".join(words[:24]).rstrip(".!?,") + ("…" if len(words) > 24 else "")
                return f"said: “{text}”"
    return ""


def _actions(events: Sequence[CallEvent], types: dict[str, str], cfg: RedactionConfig
             ) -> list[Action]:
    """Webhook nodes and tools with their results; a retried webhook counts once, last try."""
    out: list[Action] = []
    tools: list[str] = []  # tool calls waiting for their webhook_result, in order
    for e in events:
        node = str(e.data.get("node", ""))
        if e.type == "tool_call":
            tool = str(e.data.get("tool", ""))
            if tool not in _BUILTIN_TOOLS:
                tools.append(tool)
        elif e.type == "webhook_result":
            ok = bool(e.data.get("ok"))
            detail = str(e.data.get("error") or e.data.get("status") or "")
            if types.get(node) == "agent" and tools:
                out.append(Action("tool", tools.pop(0), ok, detail))
                continue
            if out and out[-1].kind == "webhook" and out[-1].name == node and not out[-1].ok:
                out.pop()  # the retry replaces the failed try
            out.append(Action("webhook", node, ok, detail))
        elif e.type == "variables_set" and out and out[-1].name == node and out[-1].ok:
            values = e.data.get("values") or {}
            saved = tuple(Fact(humanize(k), shown(k, v, cfg)) for k, v in values.items())
            last = out[-1]
            out[-1] = Action(last.kind, last.name, last.ok, last.detail, saved)
    return out


def _slots(events: Sequence[CallEvent], types: dict[str, str], cfg: RedactionConfig
           ) -> list[Fact]:
    """Slots in the order first set, each with its last value; menu choices are the need."""
    values: dict[str, Any] = {}
    for e in events:
        if e.type == "slot_set" and types.get(str(e.data.get("node", ""))) != "menu":
            values[str(e.data.get("slot", ""))] = e.data.get("value")
    return [Fact(humanize(k), shown(k, v, cfg)) for k, v in values.items() if k]


def gather(
    events: Sequence[CallEvent],
    escalations: Sequence[Escalation],
    lines: Sequence[TranscriptLine],
    cfg: RedactionConfig,
    redacted: Sequence[TranscriptLine] | None = None,
) -> CallFacts:
    """The facts of one call. `redacted` is the redacted transcript (for quoting people)."""
    types = _node_types(events)
    facts = CallFacts()
    for e in events:
        if e.type == "call_started":
            facts.flow = str(e.data.get("flow", ""))
        elif e.type == "hours" and e.data.get("open") is False:
            facts.closed_hours = True
        elif e.type == "transferred":
            facts.transferred_to = shown("to", e.data.get("to", ""), cfg)
        elif e.type == "node_entered":
            facts.end_node = str(e.data.get("node", ""))
            name = facts.end_node
            if _CALLBACK.search(name) and types.get(name) != "webhook":
                if _CALLBACK_FAILED.search(name):
                    facts.callback_failed = True
                elif _CALLBACK_DONE.search(name) and facts.callback_saved is None:
                    facts.callback_saved = Action("flow", name, True, "")
        elif e.type == "call_ended":
            facts.completed = e.data.get("outcome") == "completed"
            reason = str(e.data.get("reason", ""))
            if _CALLBACK.search(reason) and facts.callback_saved is None:
                facts.callback_saved = Action("flow", reason, True, "")
    facts.need = _need(events, types, cfg)
    facts.slots = _slots(events, types, cfg)
    facts.actions = _actions(events, types, cfg)
    for action in facts.actions:
        if action.kind == "webhook" and _CALLBACK.search(action.name):
            if action.ok:
                facts.callback_saved = action
            else:
                facts.callback_failed = True
    if facts.callback_saved is not None:
        facts.callback_failed = False  # saved in the end (a retry, a second route)
    if not facts.need and not facts.slots:
        facts.need = _said_first(redacted if redacted is not None else lines)
    facts.humans = human.parts(events, escalations, redacted if redacted is not None else lines)
    facts.keypad_entries = sum(1 for line in lines if line.kind == KEYPAD)
    facts.caller_spoke = any(
        line.speaker == SpeakerRole.CALLER and line.text for line in lines
    ) or any(e.type == "caller_input" for e in events)
    return facts


