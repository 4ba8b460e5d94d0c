"""Scripted caller audio for provider tests: speech-like tone bursts and silence as frames."""

from __future__ import annotations

import numpy as np

from callcenter.audio.frame import AudioFrame


def scripted_frames(
    rate: int, pattern: list[tuple[float, bool]], t0_ms: float = 0.0, frame_ms: int = 20
) -> list[AudioFrame]:
    """Frames for `pattern` = [(seconds, speaking?)...]; speech is a 440 Hz tone at -15 dBFS,
    loud enough for the fake servers' energy detector, silence is digital zero."""
    out: list[AudioFrame] = []
    n = rate * frame_ms // 1000
    t = t0_ms
    for seconds, speaking in pattern:
        for _ in range(round(seconds * 1000 / frame_ms)):
            if speaking:
                tt = np.arange(n) / rate + t / 1000.0
                samples = (6000 * np.sin(2 * np.pi * 440 * tt)).astype(np.int16)
            else:
                samples = np.zeros(n, dtype=np.int16)
            out.append(AudioFrame(samples, rate, t))
            t += frame_ms
    return out
