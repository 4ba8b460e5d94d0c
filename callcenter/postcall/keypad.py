"""Keys the caller pressed, as transcript lines of their own, placed by time among the speech.

The voice session records keypad input only on the timeline (`caller_input` with
`dtmf: true`), never as an utterance, so a transcript built from utterances alone loses it.
Keys for a sensitive slot (a PIN, a card) are masked here, before any copy is stored, so the
raw transcript never holds them either.
"""

from __future__ import annotations

from collections.abc import Sequence

from callcenter.models import CallEvent, SpeakerRole
from callcenter.postcall.sensitive import MASK, is_sensitive
from callcenter.postcall.transcript import KEYPAD, TranscriptLine


def _slot_for(events: Sequence[CallEvent], index: int) -> str | None:
    """The slot the input at `index` filled: the next slot_set of the same node, if any."""
    node = events[index].data.get("node")
    for later in events[index + 1 :]:
        if later.type == "caller_input":
            return None
        if later.type == "slot_set" and later.data.get("node") == node:
            return str(later.data.get("slot", ""))
    return None


def keypad_lines(events: Sequence[CallEvent]) -> list[TranscriptLine]:
    """One caller line per keypad entry, at the time the flow took it."""
    out = []
    for i, event in enumerate(events):
        if event.type != "caller_input" or not event.data.get("dtmf"):
            continue
        keys = str(event.data.get("text", "")).strip()
        node = str(event.data.get("node", ""))
        secret = is_sensitive(_slot_for(events, i)) or is_sensitive(node)
        out.append(
            TranscriptLine(
                seq=event.seq,
                speaker=SpeakerRole.CALLER,
                identity="keypad",
                start_ms=event.offset_ms,
                end_ms=event.offset_ms,
                text=MASK if secret and keys else keys,
                kind=KEYPAD,
                redactions=("masked",) if secret and keys else (),
            )
        )
    return out


def merge(speech: Sequence[TranscriptLine], keys: Sequence[TranscriptLine]) -> list[TranscriptLine]:
    """Speech and keypad lines in time order. An entry is timed when the flow took it, which
    is the instant the agent's answer to it starts: at a tie the keys come first."""
    return sorted([*speech, *keys], key=lambda line: (line.start_ms, line.kind != KEYPAD, line.seq))
