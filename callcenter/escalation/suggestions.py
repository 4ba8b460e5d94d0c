"""Suggestions for the supervisor while the AI listens: offline, from the flow's own text.

Three kinds, each a small dict sent on the room's data topic and kept on the call:
- `next_step`: where the AI goes on hand-back and what it will say first (the escalate
  node's `next`), with the flow's note for that node when it has one (a policy line).
- `answer`: a knowledge answer (an agent node's `knowledge` q/a, or an intent's canned
  `say`) matching what the caller just said. Matching is the caller's call: the
  interpreter runs the same intent classifier the flow uses (MiniLM offline).
- `fact`: the supervisor asks for something the caller already gave (a slot whose name
  matches the question), with its value: the caller is not asked twice.
Pure code over a validated flow; no IO.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from callcenter.flow.actions import ClassifyIntent
from callcenter.flow.nodes import AgentNode, EscalateNode
from callcenter.flow.schema import Flow
from callcenter.flow.templates import render

SUGGESTION_TOPIC = "callcenter.suggestion"
Kind = Literal["next_step", "answer", "fact"]
_WORD = re.compile(r"[a-z0-9]+")
# Words a slot name shares with any question; they say nothing about which slot is meant.
_PLAIN = frozenset({"the", "your", "you", "and", "for", "what", "can", "name", "number", "id",
                    "is", "of", "a", "an", "to", "my", "me", "please", "have", "get", "i"})
_ANSWER_PREFIX = "suggest:"


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: Kind
    text: str  # what the console shows, a full sentence
    source: str = ""  # the node, slot or question it came from
    confidence: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "text": self.text, "source": self.source}
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 3)
        return out


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _first_words(node: Any) -> str | None:
    """What a node says first, if it says anything."""
    for attr in ("text", "prompt", "greeting", "say", "hold_prompt"):
        value = getattr(node, attr, None)
        if isinstance(value, str) and value.strip():
            return value
    return None


class Suggester:
    """Suggestions for one escalated call of `flow`, escalated at `node`."""

    def __init__(self, flow: Flow, node: str | None, *, min_confidence: float = 0.45) -> None:
        self.flow, self.node = flow, node
        self.min_confidence = min_confidence
        self._answers: dict[str, tuple[str, str]] = {}  # intent name -> (question, answer)
        examples: dict[str, list[str]] = {}
        for name, n in flow.nodes.items():
            if not isinstance(n, AgentNode):
                continue
            for i, k in enumerate(n.knowledge):
                key = f"{_ANSWER_PREFIX}{name}:k{i}"
                self._answers[key], examples[key] = (k.q, k.a), [k.q]
            for intent in n.intents:
                if intent.say:
                    key = f"{_ANSWER_PREFIX}{name}:{intent.name}"
                    self._answers[key] = (intent.examples[0], intent.say)
                    examples[key] = list(intent.examples)
        self._examples = examples
        self._sent: set[tuple[str, str]] = set()

    def _new(self, s: Suggestion) -> list[Suggestion]:
        key = (s.kind, s.text)
        if key in self._sent:
            return []
        self._sent.add(key)
        return [s]

    def on_connect(self, slots: Mapping[str, Any]) -> list[Suggestion]:
        """When the supervisor takes the call: what the AI will do on hand-back."""
        esc = self.flow.nodes.get(self.node) if self.node else None
        target = esc.next if isinstance(esc, EscalateNode) else None
        if target is None or target not in self.flow.nodes:
            return self._new(Suggestion(
                "next_step", "This escalation has no hand-back step: pick a node when you "
                "hand back, or end the call.", self.node or ""))
        nxt = self.flow.nodes[target]
        said = _first_words(nxt)
        text = f"Hand back and the AI goes on at '{target}'"
        if said:
            text += f", saying: \u201c{render(said, slots)}\u201d"
        if nxt.description:
            text += f" Note: {nxt.description}"
        return self._new(Suggestion("next_step", text + ".", target))

    def classify_action(self, caller_text: str) -> ClassifyIntent | None:
        """What to classify to find a knowledge answer to the caller's words (None: the
        flow has no knowledge, or the words are too short to match anything)."""
        if not self._examples or len(_words(caller_text)) < 2:
            return None
        return ClassifyIntent(text=caller_text, intents=self._examples,
                              min_confidence=self.min_confidence)

    def on_answer_match(
        self, intent: str | None, confidence: float, slots: Mapping[str, Any]
    ) -> list[Suggestion]:
        """The classifier's verdict on the caller's words, as a suggestion (or none)."""
        if intent is None or intent not in self._answers or confidence < self.min_confidence:
            return []
        q, a = self._answers[intent]
        return self._new(Suggestion("answer", f"The caller may be asking \u201c{q}\u201d: "
                                    f"{render(a, slots)}", q, confidence))

    def on_supervisor_line(self, text: str, slots: Mapping[str, Any]) -> list[Suggestion]:
        """The supervisor asks for something the caller already gave."""
        said = _words(text)
        out: list[Suggestion] = []
        for slot, value in slots.items():
            if value in (None, "") or slot.startswith("_"):
                continue
            words = _words(slot.replace("_", " "))
            telling = words - _PLAIN
            # Every telling word of the slot's name is in the question ("account number"
            # -> "account"); a slot named only with plain words needs all of them.
            if (telling and telling <= said) or (not telling and words and words <= said):
                label = slot.replace("_", " ")
                out += self._new(Suggestion(
                    "fact", f"The caller already gave their {label}: {value}.", slot))
        return out
