"""Hold audio: a soft, slow, repeating chime, made on the fly (no audio files to ship).

Quiet (about -24 dBFS) and band-limited to the phone band, so it survives G.711 and never
sounds like speech to a VAD listening on the same room.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from callcenter.audio.frame import AudioFrame

_NOTES_HZ = (392.0, 523.25, 659.25, 523.25)  # G4 C5 E5 C5: a gentle arpeggio
_NOTE_S = 0.9
_LEVEL = 0.06


@lru_cache(maxsize=4)
def hold_loop(sample_rate: int) -> np.ndarray:
    """One loop of the hold chime (int16 PCM at `sample_rate`, a few seconds long)."""
    n = round(_NOTE_S * sample_rate)
    t = np.arange(n) / sample_rate
    envelope = np.minimum(1.0, t / 0.05) * np.exp(-2.5 * t)  # soft attack, bell-like decay
    notes = [np.sin(2 * np.pi * f * t) * envelope for f in _NOTES_HZ]
    loop = np.concatenate([*notes, np.zeros(round(0.6 * sample_rate))])
    return (loop * _LEVEL * 32767).astype(np.int16)


def hold_frames(sample_rate: int, seconds: float, chunk_ms: float = 40.0) -> list[AudioFrame]:
    """`seconds` of hold audio in `chunk_ms` frames, starting at the loop's beginning."""
    loop = hold_loop(sample_rate)
    total = round(seconds * sample_rate)
    reps = -(-total // len(loop))
    pcm = np.tile(loop, reps)[:total]
    step = round(sample_rate * chunk_ms / 1000.0)
    return [AudioFrame(pcm[i : i + step], sample_rate) for i in range(0, total, step)]
