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
"""

from __future__ import annotations

from typing import Any

import numpy as np

FULL_FRAMES = 3000  # Whisper's 30 s window, 100 feature frames a second
MIN_WINDOW_FRAMES = 1000  # never shorter than 10 s
TAIL_FRAMES = 700  # and at least 7 s of padding after the last frame of speech


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
        def encode(self, features: np.ndarray) -> Any:
            return super().encode(np.ascontiguousarray(trimmed(features)))

    WindowedWhisperModel.__name__ = f"Windowed{base.__name__}"
    return WindowedWhisperModel
