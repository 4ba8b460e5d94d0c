"""Assemble a call's transcript from stored utterances: a JSON form and a readable form.

For an interrupted agent utterance the transcript shows what the caller actually heard
(`heard_text`), marked as interrupted; the JSON keeps the intended text as well, so a
reviewer can see what the agent meant to say. Keypad input joins as lines of kind
`keypad` (see `postcall.keypad`); everything else is `speech`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from callcenter.models import SpeakerRole, Utterance

SPEECH, KEYPAD = "speech", "keypad"
_LABELS = {
    SpeakerRole.CALLER: "Caller",
    SpeakerRole.AGENT: "Agent",
    SpeakerRole.SUPERVISOR: "Supervisor",
}


@dataclass(slots=True, frozen=True)
class TranscriptLine:
    """One utterance as it appears in the post-call transcript."""

    seq: int
    speaker: str
    identity: str
    start_ms: int
    end_ms: int
    text: str
    heard_text: str | None = None
    interrupted: bool = False
    redactions: tuple[str, ...] = field(default=())
    kind: str = SPEECH  # speech | keypad

    @property
    def shown_text(self) -> str:
        """What the other side heard: the heard part of an interrupted agent utterance."""
        if self.interrupted and self.heard_text is not None:
            return self.heard_text
        return self.text

    def with_text(
        self, text: str, heard_text: str | None, redactions: tuple[str, ...]
    ) -> TranscriptLine:
        return replace(self, text=text, heard_text=heard_text, redactions=redactions)


def assemble(utterances: Iterable[Utterance]) -> list[TranscriptLine]:
    """Lines in the order they were spoken (start time, then the session's sequence)."""
    lines = []
    for u in utterances:
        if u.speaker_role not in _LABELS:
            raise ValueError(
                f"utterance {u.seq} of call {u.call_id} has speaker_role {u.speaker_role!r}: "
                f"expected one of {', '.join(_LABELS)}"
            )
        lines.append(
            TranscriptLine(
                seq=u.seq,
                speaker=u.speaker_role,
                identity=u.speaker_identity,
                start_ms=u.start_ms,
                end_ms=max(u.end_ms, u.start_ms),
                text=u.text.strip(),
                heard_text=u.heard_text.strip() if u.heard_text is not None else None,
                interrupted=u.interrupted,
            )
        )
    lines.sort(key=lambda line: (line.start_ms, line.seq))
    return lines


def to_json(lines: Sequence[TranscriptLine]) -> list[dict[str, Any]]:
    """JSON-ready list, one object per line."""
    out: list[dict[str, Any]] = []
    for line in lines:
        item: dict[str, Any] = {
            "kind": line.kind,
            "seq": line.seq,
            "speaker": line.speaker,
            "identity": line.identity,
            "start_ms": line.start_ms,
            "end_ms": line.end_ms,
            "text": line.shown_text,
            "interrupted": line.interrupted,
        }
        if line.interrupted:
            # The full intended sentence, kept for review; `text` is what was heard.
            item["intended_text"] = line.text
        if line.redactions:
            item["redactions"] = list(line.redactions)
        out.append(item)
    return out


def _clock(ms: int) -> str:
    seconds, _ = divmod(max(ms, 0), 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def render_text(lines: Sequence[TranscriptLine]) -> str:
    """Readable transcript: `[mm:ss] Speaker: text`, interruptions marked."""
    rows = []
    for line in lines:
        label = _LABELS.get(SpeakerRole(line.speaker), line.speaker.title())
        text = line.shown_text
        if line.kind == KEYPAD:
            label = f"{label} (keypad)"
        if line.interrupted:
            text = f"{text} — [interrupted]" if text else "[interrupted before speaking]"
        rows.append(f"[{_clock(line.start_ms)}] {label}: {text}")
    return "\n".join(rows) + ("\n" if rows else "")
