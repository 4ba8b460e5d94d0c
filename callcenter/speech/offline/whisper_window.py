"""Encode a short utterance in a short window instead of Whisper's full 30 s.

faster-whisper pads every segment's log-mel features with zero columns to 3000 frames
(30 s) and runs the encoder on all of them: for a two-second phone answer that is ~90 %
of the work of a decode, about 350 ms of tiny.en on two cores. CTranslate2's encoder takes
a shorter input, so the padding is cut to a window that still holds plenty of it.

Why a generous window and not the speech alone: fed only the speech plus a second or two,
greedy tiny.en never sees the end of the window and loops ("Yes that's right. Yes that's
right. ..." in a test of 28 phone lines, 9 looped). With at least 10 s of window and 7 s of
padding after the speech none looped and the readings matched the full window's; the
encoder then costs ~1/4 of the full one (attention is quadratic in the window).

Greedy tiny.en still loops now and then in the short window on a short group of repeated
digits ("7, 7, 7, 7, ..." to the token limit for "seven seven seven": 4 of 283 segments of
a bench quality run, none in the full window): `full_window` lets the caller decode such a
segment again in the full 30 s.

The encoder's output and the log-mel features are kept for the last few windows: a second
decode of the same audio (the constrained reading of a closed answer, a decode again
without a prompt) then costs only its decoder steps.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

FULL_FRAMES = 3000  # Whisper's 30 s window, 100 feature frames a second
MIN_WINDOW_FRAMES = 1000  # never shorter than 10 s
TAIL_FRAMES = 700  # and at least 7 s of padding after the last frame of speech
# Encoder outputs kept (~0.8 MB each for tiny.en's 10 s window): a turn's decodes run one
# after another, and a few calls' turns may interleave on the one worker.
MEMO_SIZE = 4

_state = threading.local()  # decodes of one utterance run in one thread


@contextmanager
def full_window() -> Iterator[None]:
    """Decodes in this block (this thread) encode Whisper's full 30 s window."""
    before = getattr(_state, "full", False)
    _state.full = True
    try:
        yield
    finally:
        _state.full = before


def content_frames(features: np.ndarray) -> int:
    """How many leading frames of `features` (..., 80 mels, frames) are not the zero padding.

    Log-mel frames of real audio, even of digital silence, are never all exactly zero
    (faster-whisper's normalisation clamps them far below 0), so trailing all-zero columns
    are the padding `pad_or_trim` added.
    """
    frames = features.shape[-1]
    columns = features.reshape(-1, frames)
    nonzero = np.flatnonzero(np.any(columns != 0.0, axis=0))
    return int(nonzero[-1]) + 1 if nonzero.size else 0


def window_frames(content: int, full: int = FULL_FRAMES) -> int:
    """The encoder window for `content` frames of audio: the padding cut, never below the
    minimum, never beyond the full window."""
    return min(full, max(MIN_WINDOW_FRAMES, content + TAIL_FRAMES))


def trimmed(features: np.ndarray) -> np.ndarray:
    """`features` with the zero padding beyond the window cut off (a view, no copy)."""
    frames = features.shape[-1]
    if frames <= MIN_WINDOW_FRAMES:
        return features
    keep = window_frames(content_frames(features), frames)
    return features if keep >= frames else features[..., :keep]


def windowed_model_class(base: type[Any]) -> type[Any]:
    """`base` (faster-whisper's WhisperModel) with its encoder run on the trimmed window.

    `encode` is the one place every decode (open, constrained, prompted) passes through,
    so they all get the short window; the decoder's cross-attention follows the encoder
    output's length by itself.
    """

    class WindowedWhisperModel(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.encoder_memo = EncoderMemo()
            # A second decode of the same audio skips the log-mel features too (~35 ms
            # of numpy for a short answer: faster-whisper pads it to 30 s first).
            _memoize_features(self)

        def encode(self, features: np.ndarray) -> Any:
            full = getattr(_state, "full", False)
            window = np.ascontiguousarray(features if full else trimmed(features))
            return self.encoder_memo.get(window, super().encode)

    WindowedWhisperModel.__name__ = f"Windowed{base.__name__}"
    return WindowedWhisperModel


class EncoderMemo:
    """The encoder outputs of the last `size` windows, by the windows' content.

    The decoder only reads an encoder output, so one output serves every decode of the
    same features; the key is a digest of the features (~0.3 ms for a 10 s window).
    """

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self.hits = 0
        self._outputs: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, features: np.ndarray, encode: Any) -> Any:
        key = hashlib.blake2b(features.tobytes(), digest_size=16).digest() + repr(
            features.shape).encode()
        with self._lock:
            hit = self._outputs.get(key)
            if hit is not None:
                self._outputs.move_to_end(key)
                self.hits += 1
                return hit
        out = encode(features)  # outside the lock: another stream's encode may run
        with self._lock:
            self._outputs[key] = out
            while len(self._outputs) > self.size:
                self._outputs.popitem(last=False)
        return out


def _memoize_features(model: Any) -> None:
    model.feature_extractor = FeatureMemo(model.feature_extractor)


class FeatureMemo:
    """faster-whisper's feature extractor with the features of the last `size` clips kept.

    Every other attribute (hop length, frames per window, ...) is the extractor's own. The
    features come back read-only: one array serves every decode of the same audio.
    """

    def __init__(self, extractor: Any, size: int = MEMO_SIZE) -> None:
        self.extractor = extractor
        self.size = size
        self.hits = 0
        self._features: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.extractor, name)

    def __call__(self, audio: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        data = np.ascontiguousarray(audio)
        key = hashlib.blake2b(data.tobytes(), digest_size=16).digest() + repr(
            (data.shape, str(data.dtype), args, sorted(kwargs.items()))).encode()
        with self._lock:
            hit = self._features.get(key)
            if hit is not None:
                self._features.move_to_end(key)
                self.hits += 1
                return hit
        features: np.ndarray = self.extractor(audio, *args, **kwargs)
        features.setflags(write=False)
        with self._lock:
            self._features[key] = features
            while len(self._features) > self.size:
                self._features.popitem(last=False)
        return features
