"""The one clause splitter: streamed text cut into clauses for TTS, so the first audio never
waits for the whole reply.

The voice session uses it on LLM text before a TTS stream; the offline engines' clause
stream (`clause_stream.py`) uses it, cutting at every boundary, on what they are given.
"""

from __future__ import annotations

import re

# A clause ends at . ! ? ; : or , followed by whitespace, or at a line break. Decimal points
# ("3.5") and thousands separators ("1,000") have no space after them and are not split.
_BOUNDARY = re.compile(r"[.!?;:,]+[\"')\]]*\s+|\n+")
_HARD = set(".!?;:")


class ClauseSplitter:
    """Feed text deltas with `push`; get finished clauses back. `flush` returns the rest.

    The first clause is released at a comma once it has `first_min_words` words (fast first
    audio); later ones wait for sentence punctuation or `max_words`, which keeps prosody
    natural without letting a long sentence delay audio.
    """

    def __init__(
        self, *, first_min_words: int = 3, min_words: int = 6, max_words: int = 30
    ) -> None:
        self._buf = ""
        self._emitted = 0
        self.first_min_words = first_min_words
        self.min_words = min_words
        self.max_words = max_words

    def push(self, delta: str) -> list[str]:
        self._buf += delta
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                return out
            clause, self._buf = self._buf[:cut].strip(), self._buf[cut:]
            if clause:
                out.append(clause)
                self._emitted += 1

    def flush(self) -> list[str]:
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []

    def _find_cut(self) -> int | None:
        min_words = self.first_min_words if self._emitted == 0 else self.min_words
        for m in _BOUNDARY.finditer(self._buf):
            head = self._buf[: m.end()]
            hard = bool(set(m.group().strip()) & _HARD)
            n = len(head.split())
            if (hard and self._emitted > 0) or n >= min_words or (hard and n >= 2):
                return m.end()
        words = self._buf.split(" ")
        if len(words) > self.max_words:
            return len(" ".join(words[: self.max_words])) + 1
        return None
