"""Call summaries: by the configured LLM when there is one, otherwise extractive, offline.

Both work on the redacted transcript, so no PII reaches the LLM provider or the summary.
The offline summary picks the caller's most informative sentences (the reason for the
call is usually early) and the agent's last substantive answer, then states the outcome.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.models import Disposition, SpeakerRole
from callcenter.postcall.transcript import TranscriptLine
from callcenter.speech import LLM, ChatMessage, LLMOptions

_STOP_WORDS = """a an the and or but if so to of in on at by for with from as is are was
    were be been
    i me my we our you your he she it its they them this that these those there here what
    which who how when where why do does did done have has had can could would should will
    just yes no not ok okay um uh hi hello please thanks thank yeah yep sure right well like
    get got im i'm it's that's don't can't want need would like also about some any all one
    call calling today now then than very really let me know"""
_STOP = frozenset(_STOP_WORDS.split())
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")
_WORD = re.compile(r"[a-z][a-z']+")
_TAG = re.compile(r"\[[A-Z]+\]")
_GREETING = re.compile(
    r"\b(thank you for calling|how can i help|goodbye|bye|anything else)\b", re.I
)
_OUTCOME = {
    Disposition.RESOLVED: "Resolved by the AI agent",
    Disposition.ESCALATED: "Escalated to a supervisor",
    Disposition.TRANSFERRED: "Transferred",
    Disposition.ABANDONED: "Abandoned by the caller",
    Disposition.FAILED: "Failed",
}
MAX_SUMMARY_CHARS = 600


@dataclass(slots=True, frozen=True)
class LLMSummary:
    """What the LLM proposed: a summary and (maybe) a disposition."""

    summary: str
    disposition: Disposition | None


class SummaryFormatError(ValueError):
    """The LLM's answer was not the JSON object we asked for."""


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.strip().split()) >= 3]


def _content(text: str) -> list[str]:
    # Redaction tags ([PHONE]) say nothing about why the caller called.
    text = _TAG.sub(" ", text)
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def offline_summary(
    lines: Sequence[TranscriptLine], disposition: Disposition, outcome_detail: str = ""
) -> str:
    """Extractive summary: the caller's key sentences, the agent's answer, the outcome."""
    # Rarity across utterances: words said in many turns ("restart", "okay") carry little.
    spread = Counter(w for line in lines for w in set(_content(line.shown_text)))
    n_lines = max(len(lines), 1)
    caller = [line for line in lines if line.speaker == SpeakerRole.CALLER]
    candidates: list[tuple[float, int, str]] = []
    seen: set[str] = set()
    for pos, line in enumerate(caller):
        for sentence in _sentences(line.text):
            words = _content(sentence)
            key = " ".join(words)
            if not words or key in seen:
                continue
            seen.add(key)
            score = sum(math.log(1 + n_lines / spread[w]) for w in set(words))
            score /= len(words) ** 0.5
            # The reason for calling tends to come first.
            score *= 1.0 + 2.0 / (1 + pos)
            candidates.append((score, pos, sentence))
    best = sorted(candidates, key=lambda c: (-c[0], c[1]))[:2]
    parts = []
    if best:
        picked = " ".join(s for _, _, s in sorted(best, key=lambda c: c[1]))
        parts.append(f"Caller: {picked}")
    for line in reversed(lines):
        # A cut-off reply is a poor summary of what the agent did; take a whole one.
        if line.speaker != SpeakerRole.CALLER and line.shown_text and not line.interrupted:
            sentences = [s for s in _sentences(line.shown_text) if not _GREETING.search(s)]
            if sentences:
                parts.append(f"{line.speaker.title()}: {max(sentences, key=len)}")
                break
    outcome = _OUTCOME[disposition] + (f" ({outcome_detail})" if outcome_detail else "") + "."
    parts.append(f"Outcome: {outcome}")
    text = " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in parts)
    return text[:MAX_SUMMARY_CHARS]


_PROMPT = (
    "You summarise customer phone calls for a contact-center record. Reply with one JSON "
    'object and nothing else: {"summary": "2-3 sentences: why the caller called, what was '
    'done, how it ended", "disposition": one of "resolved", "escalated", "transferred", '
    '"abandoned", "failed"}. Redaction tags like [CARD] stand for removed personal data; '
    "keep them as tags."
)


async def llm_summary(llm: LLM, transcript_text: str, facts: str) -> LLMSummary:
    """Ask the LLM for a summary and disposition of the (redacted) transcript."""
    messages = [
        ChatMessage(role="system", content=_PROMPT),
        ChatMessage(role="user", content=f"Facts: {facts}\n\nTranscript:\n{transcript_text}"),
    ]
    chunks = []
    async for chunk in llm.chat(messages, options=LLMOptions(temperature=0.0, max_tokens=300)):
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
