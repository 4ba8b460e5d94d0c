"""Call summaries written from the call's facts (`postcall.facts`), never from picked lines.

Offline, a template states what the caller wanted, the slots collected (masked and
redacted), what the agent did (webhooks and tools with their results), the human part
(who took it, how long, what they said, how it ended) and the outcome. With an LLM
configured, the LLM writes the prose from the same facts, with the redacted transcript as
background, so no personal data reaches the provider or the summary either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.models import Disposition
from callcenter.postcall import human
from callcenter.postcall.facts import Action, CallFacts, humanize
from callcenter.postcall.human import HumanPart
from callcenter.speech import LLM, ChatMessage, LLMOptions

MAX_SUMMARY_CHARS = 900
MAX_SLOTS = 8
OUTCOMES = {
    Disposition.RESOLVED: "Resolved by the AI agent",
    Disposition.RESOLVED_BY_SUPERVISOR: "Resolved by a supervisor",
    Disposition.RESOLVED_AFTER_HANDBACK: "Handed back to the AI and resolved",
    Disposition.CALLBACK: "Callback requested",
    Disposition.ESCALATED: "Escalated to a supervisor",
    Disposition.TRANSFERRED: "Transferred",
    Disposition.ABANDONED: "Abandoned by the caller",
    Disposition.ABANDONED_IN_QUEUE: "Abandoned while waiting for a supervisor",
    Disposition.NO_SUPERVISOR: "No supervisor available; the agent ended the call",
    Disposition.FAILED: "Failed",
}


@dataclass(slots=True, frozen=True)
class LLMSummary:
    """What the LLM proposed: a summary and (maybe) a disposition."""

    summary: str
    disposition: Disposition | None


class SummaryFormatError(ValueError):
    """The LLM's answer was not the JSON object we asked for."""


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    whole = round(value)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"


def _quoted(value: str) -> str:
    # Free text the caller said reads as a quote; names, dates and tags as they are.
    return f"“{value}”" if len(value.split()) >= 3 and "[" not in value else value


def _action(a: Action) -> str:
    kind = "tool" if a.kind == "tool" else "webhook"
    if a.ok:
        text = f"{humanize(a.name)} ({kind}) succeeded"
        if a.saved:
            text += ": " + ", ".join(f"{f.name}: {f.value}" for f in a.saved)
        return text
    return f"{humanize(a.name)} ({kind}) failed" + (f" ({a.detail})" if a.detail else "")


def human_sentence(part: HumanPart) -> str:
    """One escalation in one or two sentences."""
    queue = f"Escalated to {part.queue or 'a supervisor'}"
    if part.reason:
        queue += f" ({part.reason.rstrip('.')})"
    if not part.taken:
        ended = {
            human.IN_QUEUE: f"the caller hung up after {_seconds(part.wait_s)} in the queue",
            human.TIMED_OUT: f"no supervisor answered within {_seconds(part.wait_s)}",
            human.UNAVAILABLE: "no supervisor was available",
        }.get(part.ended, "no supervisor took the call")
        return f"{queue}: {ended}."
    who = part.supervisor or "a supervisor"
    text = f"{queue}: {who} took the call after {_seconds(part.wait_s)}"
    text += f" and talked with the caller for {_seconds(part.talk_s)}"
    if part.said:
        text += f" (said: “{part.said}”)"
    if part.coached:
        text += ", coached the AI " + ("once" if part.coached == 1 else f"{part.coached} times")
    ended = {
        human.HANDED_BACK: "handed the call back to the AI",
        human.BY_SUPERVISOR: "ended the call",
        human.CALLER_LEFT: "was still on the call when the caller hung up",
    }.get(part.ended, "was still on the call at the end")
    return f"{text}, then {ended}."


def fact_lines(facts: CallFacts, disposition: Disposition, detail: str = "") -> list[str]:
    """The summary's sentences; the LLM gets the same list as its facts."""
    out = []
    if facts.flow:
        head = f"{humanize(facts.flow).capitalize()} call"
        out.append(head + (", outside opening hours." if facts.closed_hours else "."))
    if facts.need:
        out.append(f"Caller {facts.need}.")
    if facts.slots:
        shown = [f"{f.name}: {_quoted(f.value)}" for f in facts.slots[:MAX_SLOTS]]
        more = len(facts.slots) - MAX_SLOTS
        out.append("Details — " + "; ".join(shown) + (f"; {more} more." if more > 0 else "."))
    if facts.actions:
        out.append("Agent: " + "; ".join(_action(a) for a in facts.actions) + ".")
    out.extend(human_sentence(p) for p in facts.humans)
    if facts.transferred_to:
        out.append(f"Transferred to {facts.transferred_to}.")
    outcome = OUTCOMES[disposition] + (f" ({detail})" if detail else "")
    out.append(f"Outcome: {outcome}.")
    return out


def offline_summary(facts: CallFacts, disposition: Disposition, detail: str = "") -> str:
    """The template summary: good on its own, with no model at all."""
    text = " ".join(fact_lines(facts, disposition, detail))
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[: MAX_SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


_PROMPT = (
    "You summarise customer phone calls for a contact-center record. You are given the "
    "call's facts, which are true, and its transcript, which is background. Write from the "
    "facts: what the caller wanted, what was collected and done, any supervisor part, and "
    "how the call ended. Never quote the agent's greeting or prompts. Reply with one JSON "
    'object and nothing else: {"summary": "2-4 sentences", "disposition": one of '
    + ", ".join(f'"{d.value}"' for d in Disposition)
    + "}. Redaction tags like [CARD] or [MASKED] stand for removed personal data; keep them "
    "as tags."
)


async def llm_summary(llm: LLM, facts: Sequence[str], transcript_text: str) -> LLMSummary:
    """Ask the LLM to write the summary from the facts (both already redacted)."""
    listed = "\n".join(f"- {line}" for line in facts)
    messages = [
        ChatMessage(role="system", content=_PROMPT),
        ChatMessage(role="user", content=f"Facts:\n{listed}\n\nTranscript:\n{transcript_text}"),
    ]
    chunks = []
    async for chunk in llm.chat(messages, options=LLMOptions(temperature=0.0, max_tokens=350)):
        chunks.append(chunk.text)
    return parse_llm_answer("".join(chunks))


def parse_llm_answer(answer: str) -> LLMSummary:
    """Parse the LLM's JSON answer (tolerating a ```json fence around it)."""
    text = answer.strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise SummaryFormatError(f"LLM answer has no JSON object: {text[:120]!r}")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise SummaryFormatError(f"LLM answer is not valid JSON ({exc.msg})") from None
    summary = data.get("summary") if isinstance(data, dict) else None
    if not isinstance(summary, str) or not summary.strip():
        raise SummaryFormatError("LLM answer has no non-empty 'summary' string")
    raw = data.get("disposition")
    disposition = Disposition(raw) if raw in {d.value for d in Disposition} else None
    return LLMSummary(summary.strip()[:MAX_SUMMARY_CHARS], disposition)
