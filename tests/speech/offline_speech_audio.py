"""Test audio for the offline speech tests: espeak-ng or Piper speech through a phone line."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.audio.phone import phone_channel
from callcenter.audio.wav import parse_wav

needs_espeak_cli = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng CLI missing: apt-get install espeak-ng"
)


def espeak_phone(text: str, rate: int = 16000, wpm: int = 150) -> AudioFrame:
    """`text` spoken by the espeak-ng CLI, through a simulated phone line, at `rate`."""
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(wpm), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    return phone_channel(parse_wav(wav, name="espeak-ng").to_mono(), output_rate=rate)


def with_silence(frame: AudioFrame, before_ms: float = 200, after_ms: float = 300) -> AudioFrame:
    """Pad an utterance with silence, as a VAD-segmented turn would be."""
    pad = lambda ms: np.zeros(int(frame.sample_rate * ms / 1000), np.int16)  # noqa: E731
    return AudioFrame(
        np.concatenate([pad(before_ms), frame.samples, pad(after_ms)]),
        frame.sample_rate,
        frame.timestamp_ms,
    )


def frames_of(frame: AudioFrame, ms: int = 20) -> list[AudioFrame]:
    """Cut audio into real-time-sized frames with media timestamps."""
    n = frame.sample_rate * ms // 1000
    return [
        AudioFrame(
            frame.samples[i : i + n],
            frame.sample_rate,
            frame.timestamp_ms + 1000 * i / frame.sample_rate,
        )
        for i in range(0, len(frame.samples), n)
    ]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance / reference length."""
    ref, hyp = words(reference), words(hypothesis)
    dist = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, dist[0] = dist[0], i
        for j, h in enumerate(hyp, 1):
            prev, dist[j] = dist[j], min(dist[j] + 1, dist[j - 1] + 1, prev + (r != h))
    return dist[len(hyp)] / max(len(ref), 1)


def piper_phone(text: str, length_scale: float = 1.0) -> np.ndarray:
    """`text` spoken by Piper (deterministic), through the phone line, padded with 250 ms
    of silence each side, as 16 kHz int16."""
    from callcenter.speech.offline.piper import PiperOptions, PiperTTS

    tts = PiperTTS(16000, PiperOptions(deterministic=True, length_scale=length_scale))
    line = phone_channel(AudioFrame(tts.synthesize_clause(text).samples, 16000),
                         output_rate=16000)
    pad = np.zeros(4000, np.int16)
    return np.concatenate([pad, line.samples, pad])
