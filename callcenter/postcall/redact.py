"""PII redaction for transcripts: card numbers (Luhn), US SSNs, emails, phone numbers and
long digit runs, written or spoken, including card numbers split across turns.

Rules are named (`card`, `ssn`, `email`, `phone`, `digits`) and chosen by the
`REDACTION_RULES` setting. Each finding is replaced by a tag such as `[CARD]`; the line
records which kinds were removed so reviewers know something was there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.config import Settings
from callcenter.postcall.digits import DigitRun, find_runs, luhn_valid
from callcenter.postcall.transcript import TranscriptLine

ALL_RULES = frozenset({"card", "ssn", "email", "phone", "digits"})
TAGS = {
    "card": "[CARD]",
    "ssn": "[SSN]",
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "digits": "[NUMBER]",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Spoken form as recognisers write it: "john dot smith at gmail dot com".
_DOT = r"(?:\s*\.\s*|\s+dot\s+)"
_SPOKEN_EMAIL = re.compile(
    rf"\b[a-z0-9]+(?:(?:{_DOT}|\s+(?:underscore|dash)\s+)[a-z0-9]+)*\s+at\s+"
    rf"[a-z0-9]+(?:{_DOT}[a-z0-9]+)*{_DOT}(?:com|net|org|edu|gov|io|co|us|uk|ca|de|info)\b",
    re.IGNORECASE,
)
_SSN_FORMAT = re.compile(r"^\d{3}[- ]\d{2}[- ]\d{4}$")
_CALENDAR = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}:\d{2}(?::\d{2})?\b")
# Card pieces given across turns are groups of 3+ digits ("four one one one"); menu keys
# ("press 1, 2 or 3") are not.
_MIN_PIECE = 3
_SSN_CONTEXT = re.compile(r"social\s+security|\bssn\b|\bsocial\b|taxpayer", re.IGNORECASE)
# How many utterances a split card number may span (caller pauses, agent says "go on").
_SPLIT_WINDOW = 4


@dataclass(slots=True, frozen=True)
class RedactionConfig:
    """Which rules run, and the shortest digit run the `digits` rule removes."""

    rules: frozenset[str] = ALL_RULES
    min_digits: int = 5

    def __post_init__(self) -> None:
        unknown = self.rules - ALL_RULES
        if unknown:
            raise ValueError(
                f"unknown redaction rule(s) {sorted(unknown)}: use {sorted(ALL_RULES)}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> RedactionConfig:
        rules = frozenset(r for r in settings.redaction_rules.split(",") if r)
        return cls(rules=rules, min_digits=settings.redaction_min_digits)


@dataclass(slots=True, frozen=True)
class _Span:
    start: int
    end: int
    kind: str


def _ssn_valid(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return not (area in {"000", "666"} or area.startswith("9") or group == "00" or serial == "0000")


def _classify(run: DigitRun, text: str, context: str, cfg: RedactionConfig) -> str | None:
    """The rule that removes this run on its own, or None."""
    d = run.digits
    raw = text[run.start : run.end]
    if run.amount:
        return None
    if "card" in cfg.rules and 13 <= len(d) <= 19 and luhn_valid(d):
        return "card"
    if (
        "ssn" in cfg.rules
        and len(d) == 9
        and _ssn_valid(d)
        and (_SSN_FORMAT.match(raw) or _SSN_CONTEXT.search(context))
    ):
        return "ssn"
    if "phone" in cfg.rules and (
        len(d) == 10 or (len(d) == 11 and d[0] == "1") or (len(d) == 7 and not run.spelled)
    ):
        return "phone"
    if "digits" in cfg.rules and len(d) >= cfg.min_digits:
        return "digits"
    return None


def _extend_left(text: str, start: int) -> int:
    # Keep "(555) 123" from leaving a lone "(" or "+" before the tag.
    while start > 0 and text[start - 1] in "(+":
        start -= 1
    return start


def _text_spans(
    text: str, context: str, cfg: RedactionConfig
) -> tuple[list[_Span], list[DigitRun]]:
    """Spans one utterance removes on its own, and its digit runs that may be card pieces."""
    spans: list[_Span] = []
    if "email" in cfg.rules:
        for rx in (_EMAIL, _SPOKEN_EMAIL):
            spans.extend(_Span(m.start(), m.end(), "email") for m in rx.finditer(text))
    leftovers: list[DigitRun] = []
    # Dates and clock times the agent reads back ("2026-12-01 at 13:00") are not PII and
    # must not become pieces of a "card" assembled across turns.
    calendar = [(m.start(), m.end()) for m in _CALENDAR.finditer(text)]
    for run in find_runs(text):
        if any(s.start <= run.start < s.end for s in spans):
            continue
        if any(a <= run.start and run.end <= b for a, b in calendar):
            continue
        kind = _classify(run, text, context + " " + text[: run.start], cfg)
        # Unclassified groups and plain long numbers may be pieces of a card given across
        # turns. Single digits ("one moment") never are.
        if kind in (None, "digits") and not run.amount and len(run.digits) >= _MIN_PIECE:
            leftovers.append(run)
        if kind is not None:
            spans.append(_Span(_extend_left(text, run.start), run.end, kind))
    return spans, leftovers


def _overlaps(a: _Span, b: _Span) -> bool:
    return a.start < b.end and b.start < a.end


def _apply(text: str, spans: Sequence[_Span]) -> str:
    out = []
    pos = 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < pos:  # overlapping finding: the earlier one already covers it
            continue
        out.append(text[pos : span.start])
        out.append(TAGS[span.kind])
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def _split_cards(
    leftovers: dict[int, list[DigitRun]], lines: Sequence[TranscriptLine]
) -> dict[int, list[_Span]]:
    """Card numbers a speaker gave in pieces, across turns: Luhn-valid concatenations."""
    found: dict[int, list[_Span]] = {}
    by_speaker: dict[str, list[tuple[int, DigitRun]]] = {}
    for idx in sorted(leftovers):
        for run in leftovers[idx]:
            by_speaker.setdefault(lines[idx].speaker, []).append((idx, run))
    for pieces in by_speaker.values():
        i = 0
        while i < len(pieces):
            digits = ""
            matched = None
            for j in range(i, len(pieces)):
                if j > i and pieces[j][0] - pieces[j - 1][0] > _SPLIT_WINDOW:
                    break
                digits += pieces[j][1].digits
                if len(digits) > 19:
                    break
                if j > i and len(digits) >= 13 and luhn_valid(digits):
                    matched = j
            if matched is None:
                i += 1
                continue
            for idx, run in pieces[i : matched + 1]:
                found.setdefault(idx, []).append(_Span(run.start, run.end, "card"))
            i = matched + 1
    return found


def redact_text(text: str, cfg: RedactionConfig | None = None, context: str = "") -> str:
    """Redact one piece of text on its own (no cross-turn rules)."""
    cfg = cfg or RedactionConfig()
    spans, _ = _text_spans(text, context, cfg)
    return _apply(text, spans)


def redact_lines(
    lines: Sequence[TranscriptLine], cfg: RedactionConfig | None = None
) -> list[TranscriptLine]:
    """Redacted copies of transcript lines (intended and heard text), cross-turn rules included."""
    cfg = cfg or RedactionConfig()
    spans: dict[int, list[_Span]] = {}
    leftovers: dict[int, list[DigitRun]] = {}
    for idx, line in enumerate(lines):
        # The previous two lines give context: "what's your social?" then "078 05 1120".
        context = " ".join(x.text for x in lines[max(0, idx - 2) : idx])
        spans[idx], leftovers[idx] = _text_spans(line.text, context, cfg)
    if "card" in cfg.rules:
        for idx, extra in _split_cards(leftovers, lines).items():
            # A piece first tagged [NUMBER] becomes [CARD] now that the whole is known.
            kept = [s for s in spans[idx] if not any(_overlaps(s, e) for e in extra)]
            spans[idx] = kept + extra
    out = []
    for idx, line in enumerate(lines):
        heard = line.heard_text
        if heard is not None:
            if line.text.startswith(heard):
                # Heard text is a prefix of the intended text: clip the same spans, so half a
                # card number cut off by barge-in is removed too.
                clipped = [
                    _Span(s.start, min(s.end, len(heard)), s.kind)
                    for s in spans[idx]
                    if s.start < len(heard)
                ]
                heard = _apply(heard, clipped)
            else:
                heard = redact_text(heard, cfg)
        kinds = tuple(sorted({s.kind for s in spans[idx]}))
        out.append(line.with_text(_apply(line.text, spans[idx]), heard, kinds))
    return out
