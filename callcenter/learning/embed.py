"""Sentence embeddings for learning: MiniLM offline, behind a one-method protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

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


def similarity(embedder: Embedder, texts: Sequence[str], others: Sequence[str]) -> Matrix:
    """Cosine similarity of every text (rows) to every other (columns)."""
    if not texts or not others:
        return np.zeros((len(texts), len(others)), dtype=np.float32)
    a, b = embedder.encode(list(texts)), embedder.encode(list(others))
    return np.asarray(a @ b.T, dtype=np.float32)
