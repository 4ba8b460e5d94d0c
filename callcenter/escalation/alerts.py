"""Live alerts on a call: the caller says a watched phrase, or the caller's mood drops.

Contact-center consoles flag such calls so a supervisor can listen in before the caller
asks for one ("cancel my account", "lawyer", a caller getting angrier). `AlertWatcher`
reads one call's finished caller lines as they come and says when to flag it. It is pure
(no I/O, microseconds a line): the call session records each alert as a call event
(`alert`), and both consoles read their feeds from the call's events.

Phrases match case-insensitively on word boundaries ("lawyer" flags "my lawyer's number"
but not "lawyers"; "cancel my account" also flags "cancel, my account"), each at most
once a call. The mood is the post-call sentiment lexicon's score of each line, averaged
over the last few lines that carry one: a drop is that average falling to `floor` and at
least `drop` below the best it was (neutral to start with). It flags once, and again only
after the caller has come back to neutral.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from callcenter.postcall.sentiment import score_text

ALERT_EVENT = "alert"  # the call event type both consoles' feeds show
DEFAULT_WATCH_PHRASES = ("cancel my account", "lawyer", "attorney")
_POLAR = 0.05  # a line scoring less than this either way carries no mood (as post-call)


class WatchPhraseError(ValueError):
    """A watched phrase that could never match; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Alert:
    kind: Literal["phrase", "sentiment"]
    message: str  # what the console shows
    said: str  # the caller's line that raised it
    phrase: str | None = None
    score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "message": self.message, "said": self.said}
        if self.phrase is not None:
            data["phrase"] = self.phrase
        if self.score is not None:
            data["score"] = self.score
        return data


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """`phrase` as a case-insensitive whole-word pattern; words may be split by any
    spaces or punctuation (a transcript's commas)."""
    words = re.findall(r"\w+(?:'\w+)?", phrase.lower())
    if not words:
        raise WatchPhraseError(f"watched phrase {phrase!r} has no words: give words to "
                               "listen for, e.g. 'cancel my account'")
    body = r"\W+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def parse_phrases(text: str) -> tuple[str, ...]:
    """A comma list of phrases (the WATCH_PHRASES setting): stripped, blanks dropped,
    each checked by `phrase_pattern`."""
    phrases = tuple(p.strip() for p in text.split(",") if p.strip())
    for p in phrases:
        phrase_pattern(p)
    return phrases


class AlertWatcher:
    """Watches one call's caller lines (see module docstring)."""

    def __init__(self, phrases: Iterable[str] = DEFAULT_WATCH_PHRASES, *, window: int = 3,
                 min_lines: int = 2, floor: float = -0.35, drop: float = 0.35) -> None:
        self._phrases: dict[str, re.Pattern[str]] = {}
        for p in phrases:
            key = " ".join(p.lower().split())
            if key and key not in self._phrases:
                self._phrases[key] = phrase_pattern(p)
        self._said: set[str] = set()
        self._moods: deque[float] = deque(maxlen=window)
        self._min_lines, self._floor, self._drop = min_lines, floor, drop
        self._best = 0.0
        self._flagged = False

    @property
    def phrases(self) -> list[str]:
        return list(self._phrases)

    def on_caller_line(self, text: str) -> list[Alert]:
        """Alerts raised by one finished caller line (usually none)."""
        said = text.strip()
        if not said:
            return []
        alerts = [Alert("phrase", f"Caller said \u201c{key}\u201d", said, phrase=key)
                  for key, pattern in self._phrases.items()
                  if key not in self._said and pattern.search(said)]
        self._said.update(a.phrase for a in alerts if a.phrase)
        mood = self._mood(said)
        if mood is not None:
            alerts.append(mood)
        return alerts

    def _mood(self, said: str) -> Alert | None:
        score = score_text(said)
        if abs(score) < _POLAR:
            return None  # "four eight two one": a plain answer says nothing of the mood
        self._moods.append(score)
        if len(self._moods) < self._min_lines:
            return None
        mean = sum(self._moods) / len(self._moods)
        if self._flagged:
            if mean >= 0.0:  # back to neutral: a new drop may flag again
                self._flagged, self._best = False, mean
            return None
        self._best = max(self._best, mean)
        if mean <= self._floor and self._best - mean >= self._drop:
            self._flagged = True
            return Alert("sentiment", f"Caller sentiment dropped to {mean:+.2f}", said,
                         score=round(mean, 3))
        return None
