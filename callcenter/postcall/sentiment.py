"""Caller sentiment per utterance, per call, and its trend, with a small offline lexicon.

A lexicon is crude but predictable, fast (microseconds per line) and needs no model: good
enough to flag calls that end angrier than they began. Scores are in [-1, 1].
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.models import SpeakerRole
from callcenter.postcall.transcript import KEYPAD, TranscriptLine

# Word -> polarity (-3..3). Phone-support vocabulary, lower case.
_LEXICON: dict[str, float] = {
    **dict.fromkeys(["thanks", "thank", "great", "perfect", "excellent", "awesome"], 2.5),
    **dict.fromkeys(["wonderful", "amazing", "fantastic", "love", "appreciate"], 3.0),
    **dict.fromkeys(["good", "helpful", "happy", "glad", "nice", "resolved", "fixed"], 2.0),
    **dict.fromkeys(["fine", "ok", "okay", "sure", "works", "working", "easy", "right"], 0.8),
    **dict.fromkeys(["pleased", "satisfied", "quick", "fast", "clear", "cool"], 1.5),
    **dict.fromkeys(["bad", "wrong", "problem", "issue", "broken", "late", "slow"], -1.5),
    **dict.fromkeys(["angry", "furious", "terrible", "horrible", "awful", "worst"], -3.0),
    **dict.fromkeys(["ridiculous", "unacceptable", "useless", "hate", "scam"], -3.0),
    **dict.fromkeys(["frustrated", "frustrating", "annoyed", "annoying", "upset"], -2.5),
    **dict.fromkeys(["disappointed", "confused", "waiting", "waste", "cancel"], -1.8),
    **dict.fromkeys(["complaint", "overcharged", "charged", "refund", "failed", "error"], -1.2),
    **dict.fromkeys(["never", "again", "still"], -0.5),
}
_NEGATORS = {"not", "no", "never", "don't", "doesn't", "didn't", "isn't", "wasn't", "can't"}
_NEGATORS |= {"won't", "cannot", "nothing", "without", "aren't"}
_BOOSTERS = {"very": 1.4, "really": 1.3, "so": 1.3, "extremely": 1.6, "totally": 1.4}
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Words already used as negation scope markers should not also count as negative words.
_SCOPE = 3
# Thanks are thanks even after "no" ("no, that's all, thanks"; "no thank you").
_NEVER_NEGATED = {"thanks", "thank", "appreciate"}
# Trend: a line carries a mood from this score; a change of this much between the first
# and last segments is a direction; "worsening" also needs a caller no longer positive.
_POLAR, _CHANGE, _STILL_HAPPY = 0.05, 0.15, 0.1
# A negation reaches only to the end of its clause: "no, that's great" is not "not great".
_CLAUSE = re.compile(r"[,.;:!?]|\bbut\b")


@dataclass(slots=True, frozen=True)
class SentimentResult:
    """Mean caller sentiment, per-segment trend scores and a one-word direction."""

    score: float
    trend: list[float]
    direction: str  # improving | worsening | steady | unknown
    per_line: list[float]


def score_text(text: str) -> float:
    """Sentiment of one utterance in [-1, 1]; 0 when no word carries polarity."""
    total = 0.0
    for clause in _CLAUSE.split(text.lower()):
        total += _clause_score(_WORD.findall(clause))
    if text.count("!") and total:
        total *= 1.15
    return total / math.sqrt(total * total + 12.0)


def _clause_score(words: list[str]) -> float:
    total = 0.0
    for i, word in enumerate(words):
        value = _LEXICON.get(word)
        if value is None:
            continue
        window = words[max(0, i - _SCOPE) : i]
        if word not in _NEVER_NEGATED and any(w in _NEGATORS for w in window):
            # "not good" is mildly negative, "not bad" mildly positive.
            value = -value * 0.6
        if i > 0 and words[i - 1] in _BOOSTERS:
            value *= _BOOSTERS[words[i - 1]]
        total += value
    return total


def analyse(lines: Sequence[TranscriptLine], segments: int = 3) -> SentimentResult:
    """Caller sentiment: the call's mean and the mean of each time segment."""
    # Keys pressed carry no mood; only what the caller said counts.
    caller = [line for line in lines
              if line.speaker == SpeakerRole.CALLER and line.text and line.kind != KEYPAD]
    per_line = [round(score_text(line.text), 3) for line in caller]
    if not caller:
        return SentimentResult(0.0, [], "unknown", [])
    score = sum(per_line) / len(per_line)
    # The trend follows lines that carry a mood. Plain answers ("Jane Doe", "next Tuesday")
    # score 0 and would drag a thankful caller's later segments down to "worsening".
    polar = [(line.start_ms, v) for line, v in zip(caller, per_line, strict=True)
             if abs(v) >= _POLAR]
    trend: list[float] = []
    if polar:
        start = polar[0][0]
        span = max(polar[-1][0] - start, 1)
        buckets: list[list[float]] = [[] for _ in range(segments)]
        for at, value in polar:
            buckets[min(int((at - start) / span * segments), segments - 1)].append(value)
        trend = [round(sum(b) / len(b), 3) for b in buckets if b]
    direction = "steady"
    if len(trend) >= 2:
        delta = trend[-1] - trend[0]
        if delta > _CHANGE:
            direction = "improving"
        elif delta < -_CHANGE and trend[-1] < _STILL_HAPPY:
            # Less delighted but still positive at the end ("great, thanks" ... "okay,
            # thanks") is not a caller getting angry.
            direction = "worsening"
    return SentimentResult(round(score, 3), trend, direction, per_line)
