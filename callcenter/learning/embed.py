"""Sentence embeddings for learning: MiniLM offline, behind a one-method protocol."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns sentences into unit vectors (rows), so a dot product is cosine similarity."""

    def encode(self, texts: Sequence[str]) -> Matrix: ...


def minilm() -> Embedder:
    """The process-wide MiniLM encoder the offline intent matcher uses too."""
    from callcenter.speech.offline.intents import load_encoder

    return load_encoder()


# Per embedder, the vectors of sentences seen lately: one call's step compares the same
# example lists (person requests, ordinary answers, a node's phrases) several times, and a
# re-run compares the same words again. Bounded; an embedder that cannot be weakly referenced
# is simply not cached.
CACHE_SIZE = 4096
_vectors: weakref.WeakKeyDictionary[Any, dict[str, Matrix]] = weakref.WeakKeyDictionary()


def encode(embedder: Embedder, texts: Sequence[str]) -> Matrix:
    """`embedder.encode(texts)`, reusing vectors it made before."""
    try:
        seen = _vectors.setdefault(embedder, {})
    except TypeError:
        return embedder.encode(list(texts))
    missing = [t for t in dict.fromkeys(texts) if t not in seen]
    if missing:
        if len(seen) + len(missing) > CACHE_SIZE:
            seen.clear()
        seen.update(zip(missing, embedder.encode(missing), strict=True))
    return np.stack([seen[t] for t in texts]).astype(np.float32)


def similarity(embedder: Embedder, texts: Sequence[str], others: Sequence[str]) -> Matrix:
    """Cosine similarity of every text (rows) to every other (columns)."""
    if not texts or not others:
        return np.zeros((len(texts), len(others)), dtype=np.float32)
    a, b = encode(embedder, texts), encode(embedder, others)
    return np.asarray(a @ b.T, dtype=np.float32)
