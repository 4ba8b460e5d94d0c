"""How a scripted caller's lines become audio: Piper, eSpeak or a WAV file, over a channel.

Synthesis is cached per (voice, text, channel), so a benchmark with hundreds of callers
synthesizes each line once. The `phone` channel is what a real call delivers: 8 kHz,
300-3400 Hz, G.711 mu-law.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.phone import PHONE_RATE, phone_channel
from callcenter.audio.resample import resample_pcm
from callcenter.audio.wav import read_wav_frame

Channel = Literal["phone", "wideband"]
WIDEBAND_RATE = 16000


def channel_rate(channel: Channel) -> int:
    return PHONE_RATE if channel == "phone" else WIDEBAND_RATE


@dataclass(frozen=True, slots=True)
class SpokenAudio:
    """A line as it reaches the room, and where the voice is within it (ground truth)."""

    samples: PCM16
    sample_rate: int
    voiced_start_ms: float
    voiced_end_ms: float

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.samples) / self.sample_rate


class _Synth(Protocol):
    def synthesize_clause(self, text: str) -> object: ...


class CallerVoice:
    """Turns text into channel audio with an offline TTS (blocking; call via an executor)."""

    def __init__(self, kind: Literal["piper", "espeak"], channel: Channel) -> None:
        self.kind = kind
        self.channel = channel
        self.rate = channel_rate(channel)
        self._cache: dict[str, SpokenAudio] = {}
        self._lock = threading.Lock()
        self._tts: _Synth | None = None

    def _engine(self) -> _Synth:
        if self._tts is None:
            if self.kind == "piper":
                from callcenter.speech.offline.piper import PiperOptions, PiperTTS

                self._tts = PiperTTS(16000, PiperOptions(deterministic=True))
            else:
                from callcenter.speech.offline.espeak import EspeakTTS

                self._tts = EspeakTTS(16000)
        return self._tts

    def speak(self, text: str) -> SpokenAudio:
        with self._lock:
            hit = self._cache.get(text)
            if hit is None:
                clause = self._engine().synthesize_clause(text)
                pcm: PCM16 = clause.samples  # type: ignore[attr-defined]
                hit = self._cache[text] = to_channel(pcm, 16000, self.channel)
            return hit


def voiced_span_ms(samples: PCM16, rate: int, level: int = 300) -> tuple[float, float]:
    """Where the voice starts and ends in `samples` (first/last sample above ~-40 dBFS)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > level)
    if not len(loud):
        return 0.0, 1000.0 * len(samples) / rate
    return 1000.0 * float(loud[0]) / rate, 1000.0 * float(loud[-1] + 1) / rate


def to_channel(samples: PCM16, rate: int, channel: Channel) -> SpokenAudio:
    """Pass audio through the caller's channel and measure where the voice is."""
    if channel == "phone":
        out = phone_channel(AudioFrame(samples, rate)).samples
        out_rate = PHONE_RATE
    else:
        out = resample_pcm(samples, rate, WIDEBAND_RATE)
        out_rate = WIDEBAND_RATE
    start, end = voiced_span_ms(out, out_rate)
    return SpokenAudio(np.ascontiguousarray(out, dtype=np.int16), out_rate, start, end)


def audio_file(path: str | Path, channel: Channel) -> SpokenAudio:
    """A WAV file as caller audio (for `audio:` scripts)."""
    frame = read_wav_frame(path)
    return to_channel(frame.samples, frame.sample_rate, channel)
