"""ElevenLabs character alignment -> `Word`s with times relative to the whole utterance.

The server sends, with each audio chunk, the characters it covers and their start times and
durations *relative to that chunk*. We shift them by the audio already received and group
characters into words at whitespace; a word split across chunks is emitted when it ends.
"""

from __future__ import annotations

from typing import Any

from callcenter.speech.types import Word


class WordAligner:
    """Accumulates alignment messages of one utterance."""

    def __init__(self) -> None:
        self.audio_ms = 0.0  # audio received so far = offset of the next chunk
        self._chars: list[str] = []
        self._start = 0.0
        self._end = 0.0

    def add(self, alignment: dict[str, Any] | None, chunk_ms: float) -> list[Word]:
        """Take one chunk's alignment (may be None) and duration; return words it completed."""
        offset = self.audio_ms
        words: list[Word] = []
        if alignment:
            chars = alignment.get("chars") or []
            starts = alignment.get("charStartTimesMs") or []
            durations = alignment.get("charDurationsMs") or []
            for ch, start, duration in zip(chars, starts, durations, strict=False):
                if ch.isspace():
                    if self._chars:
                        words.append(self._close())
                    continue
                if not self._chars:
                    self._start = offset + float(start)
                self._chars.append(ch)
                self._end = offset + float(start) + float(duration)
        self.audio_ms += chunk_ms
        return words

    def finish(self) -> list[Word]:
        """The utterance ended: emit the last word if it had no trailing space."""
        return [self._close()] if self._chars else []

    def _close(self) -> Word:
        word = Word("".join(self._chars), self._start, self._end)
        self._chars = []
        return word
