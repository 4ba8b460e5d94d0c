"""Caller lines the agent heard again: the transcript shows the reading the call acted on.

A turn the flow did not understand is read again by the second recognizer
(`callsession.second_hearing`); when that reading is taken, the timeline has a
`heard_again` event with both texts, while the utterance stored by the voice session holds
the first. The transcript, the summary and the sentiment must follow what the agent did
with the turn, so the line gets the second reading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from callcenter.models import CallEvent, SpeakerRole
from callcenter.postcall.transcript import SPEECH, TranscriptLine


def apply_heard_again(lines: list[TranscriptLine],
                      events: Sequence[CallEvent]) -> list[TranscriptLine]:
    """`lines` with each caller line heard again replaced by the reading that was taken."""
    out = list(lines)
    for event in events:
        if event.type != "heard_again":
            continue
        first = str(event.data.get("first", "")).strip()
        second = str(event.data.get("second", "")).strip()
        if not first or not second:
            continue
        # The newest caller line with that text, said before the flow heard it again.
        for i in range(len(out) - 1, -1, -1):
            line = out[i]
            if (line.speaker == SpeakerRole.CALLER and line.kind == SPEECH
                    and line.start_ms <= event.offset_ms and line.text.strip() == first):
                out[i] = dataclasses.replace(line, text=second)
                break
    return out
