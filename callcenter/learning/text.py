"""Small text helpers shared by the learning steps."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")
# A supervisor's opening ("hi, this is Ada from billing") is no part of the answer.
_GREETING = re.compile(
    r"^\s*(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: there)?[,.!]?\s*)?"
    r"(?:(?:this is|it's|my name is|i'm) [a-z]+(?: from (?:the )?[a-z]+(?: team)?)?[,.!]?\s*)?",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """Lower case words joined by single spaces: the key that makes suggestions unique."""
    return " ".join(_WORD.findall(text.lower()))[:300]


def without_greeting(text: str) -> str:
    """The supervisor's words without a leading hello and self-introduction."""
    rest = _GREETING.sub("", text, count=1).strip()
    return rest[:1].upper() + rest[1:] if rest else text.strip()


def sentence(text: str) -> str:
    """Text as a spoken sentence: capitalised, ending in punctuation."""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def slug(words: list[str], taken: set[str], prefix: str = "route") -> str:
    """A node name from a few words, unique among `taken`."""
    base = "_".join([prefix, *[w for w in words if w.isalnum()][:3]])[:60]
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name
