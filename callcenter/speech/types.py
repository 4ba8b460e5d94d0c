"""Value types more than one kind of provider uses.

A `Word` is timed text: STT transcripts carry the words the caller said, TTS audio carries
the words being spoken, so the voice session can tell what the caller actually heard.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Word:
    text: str
    start_ms: float
    end_ms: float
    confidence: float = 1.0
