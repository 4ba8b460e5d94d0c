"""An LLM's wording of what a person said (optional): the answer a knowledge item gives, the
line a new route's node says.

Offline the rules build those from the supervisor's own words (greeting dropped, one spoken
sentence). With an LLM configured, it rewrites them short and spoken, from the same redacted
words only; the rule-built text stays beside it in the suggestion (`rule_text`) and is used
whenever the LLM is not configured, fails, times out or answers something unusable. What is
sent is scrubbed once more right before it leaves, and what comes back is scrubbed too, so
no personal data reaches the provider or the flow either way.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from callcenter.config import Settings
from callcenter.learning.privacy import scrub
from callcenter.learning.text import sentence
from callcenter.speech.llm.base import LLM, ChatMessage, LLMOptions

log = logging.getLogger(__name__)

MAX_CHARS = 300
TIMEOUT_S = 20.0
_FIELD = {"knowledge": "a", "route": "say"}
# Templates would be filled from the caller's slots at run time: never from a model.
_UNSAFE = re.compile(r"\{\{|\}\}|\{%|%\}")

_PROMPT = (
    "You write one line for a phone agent to say, from what a human supervisor told a "
    "caller. Use only facts the supervisor stated; never add prices, dates, numbers, "
    "policies or promises they did not say. At most two short spoken sentences and 40 "
    "words, plain words, no greeting, no names, no markdown, no quotes. Tags like [CARD] "
    "or [PHONE] stand for removed personal data: leave them out. Reply with the line only."
)


@dataclass(slots=True, frozen=True)
class Wording:
    """One text to write: for a knowledge answer or a new route's line."""

    kind: str  # "knowledge" | "route"
    question: str  # the caller's need, redacted
    source: str  # the supervisor's words, redacted
    rules: str  # the rule-built text: what is used without a usable LLM answer

    @property
    def field(self) -> str:
        return _FIELD[self.kind]


class Writer(Protocol):
    """Writes texts for many wordings at once; None where it has no usable text."""

    def write(self, wordings: Sequence[Wording]) -> list[str | None]: ...


def worded(kind: str) -> bool:
    """Does a suggestion of this kind carry a text a writer may word?"""
    return kind in _FIELD


def messages(wording: Wording) -> list[ChatMessage]:
    """What the LLM is sent: scrubbed again here, whatever the caller passed in."""
    task = ("Answer the caller's question" if wording.kind == "knowledge"
            else "Say what the agent tells callers with this need")
    return [ChatMessage(role="system", content=_PROMPT),
            ChatMessage(role="user", content=(
                f"{task}.\nCaller: {scrub(wording.question)}\n"
                f"Supervisor: {scrub(wording.source)}"))]


def usable(answer: str) -> str | None:
    """The model's answer as a spoken line, or None if it cannot go into a flow."""
    text = " ".join(answer.strip().strip("\"'`").split())
    if not text or _UNSAFE.search(text):
        return None
    text = scrub(text)
    if len(text) > MAX_CHARS:
        return None
    return sentence(text)


class LLMWriter:
    """Words texts with the LLM `make_llm` builds (None: not configured, the rules stand).

    A new LLM per `write`: the step is synchronous, so each call runs its own event loop and
    the client (bound to that loop) is closed before it ends.
    """

    def __init__(self, make_llm: Callable[[], LLM | None], *, timeout_s: float = TIMEOUT_S,
                 model: str | None = None) -> None:
        self.make_llm = make_llm
        self.timeout_s = timeout_s
        self.model = model

    def write(self, wordings: Sequence[Wording]) -> list[str | None]:
        if not wordings:
            return []
        llm = self.make_llm()
        if llm is None:
            return [None] * len(wordings)
        return asyncio.run(self._all(llm, wordings))

    async def _all(self, llm: LLM, wordings: Sequence[Wording]) -> list[str | None]:
        try:
            return [await self._one(llm, w) for w in wordings]
        finally:
            await llm.aclose()

    async def _one(self, llm: LLM, wording: Wording) -> str | None:
        options = LLMOptions(model=self.model, temperature=0.2, max_tokens=120)

        async def ask() -> str:
            parts = [c.text async for c in llm.chat(messages(wording), options=options)]
            return "".join(parts)

        try:
            answer = await asyncio.wait_for(ask(), self.timeout_s)
        except Exception as exc:
            # Any failure (outage, timeout, a refused key): the rule-built text stands.
            log.warning("learning: LLM wording failed (%s: %s); using the rule-built text",
                        type(exc).__name__, str(exc)[:200])
            return None
        text = usable(answer)
        if text is None:
            log.warning("learning: LLM wording unusable (%d chars); using the rule-built text",
                        len(answer))
        return text


def from_settings(settings: Settings) -> LLMWriter:
    """The writer post-call uses: OpenAI whenever its key is set, as for call summaries."""
    from callcenter.speech.factory import openai_llm

    return LLMWriter(lambda: openai_llm(settings))


def rule_built(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A new proposal's payload, marked as worded by the rules (its text kept as `rule_text`)."""
    if not worded(kind):
        return payload
    field = _FIELD[kind]
    return {**payload, "rule_text": payload.get(field) or "", "written_by": "rules"}


def kept(old: dict[str, Any], new: dict[str, Any], kind: str) -> dict[str, Any]:
    """`new`, keeping the LLM's text of `old` when it was written from the same words (a
    re-run must not throw away, or pay again for, a wording it already has)."""
    if not worded(kind) or old.get("written_by") != "llm":
        return new
    if old.get("rule_text") != new.get("rule_text"):
        return new
    field = _FIELD[kind]
    return {**new, field: old.get(field), "written_by": "llm"}


def wording_of(kind: str, payload: dict[str, Any]) -> Wording:
    """What to ask the writer for a stored suggestion's payload."""
    phrases = payload.get("phrases") or [""]
    question = str(payload.get("q") or phrases[0])
    rules = str(payload.get("rule_text") or payload.get(_FIELD[kind]) or "")
    return Wording(kind, question, rules, rules)
