"""Caller audio for the quality bench: voices, pauses, noise, the phone line, and turns.

Each labelled line is spoken by one voice (Piper at several speeds, eSpeak NG voices and
speeds), with a pause of about a second wherever the text has " | ", noise at the item's
SNR, through the phone channel (300-3400 Hz, 8 kHz mu-law) and back up to the 16 kHz the
voice session asks the room for. Audio and Whisper transcripts are cached under the data
dir: they depend on the voice and the words, not on the code under test.

Turns are cut the way `VoiceSession` cuts them: the real Silero `VADStream` with the
session's settings finds speech segments, Whisper transcribes each segment, and
`voice.endpointing.endpoint_delay` (on the text so far) decides whether the next segment
continues the turn. A gap shorter than that delay bridges; a longer one ends the turn.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.resample import resample_pcm
from callcenter.audio.vad import VADEvent, VADEventKind, VADStream
from callcenter.testing.voices import to_channel
from callcenter.voice.settings import VoiceSettings

RATE = 16000
_FRAME = RATE // 50  # 20 ms, as rooms deliver it


@dataclass(frozen=True, slots=True)
class Voice:
    """One synthetic caller: engine, voice name, speed (Piper length scale or eSpeak wpm)."""

    name: str
    engine: str
    voice: str = ""
    speed: float = 1.0


# Tuning voices and held-out voices never overlap (the held-out part is new in voice too).
TUNE_VOICES = (
    Voice("piper-1.0", "piper", speed=1.0),
    Voice("piper-slow", "piper", speed=1.25),
    Voice("espeak-us-160", "espeak", "en-us", 160),
    Voice("espeak-029-150", "espeak", "en-029", 150),
)
HELDOUT_VOICES = (
    Voice("piper-fast", "piper", speed=0.85),
    Voice("espeak-f3-175", "espeak", "en-us+f3", 175),
    Voice("espeak-scot-150", "espeak", "en-gb-scotland", 150),
)
# The second held-out part (the set's `fresh` lists) is spoken only by these.
FRESH_VOICES = (
    Voice("espeak-m3-140", "espeak", "en-us+m3", 140),
    Voice("piper-1.1", "piper", speed=1.1),
    Voice("espeak-rp-165", "espeak", "en-gb-x-rp", 165),
)
# Held-out v3 (the set's `heldout_v3`): accents and speeds used by no other part, and noise
# levels of its own (`V3_SNRS`), so nothing tuned on the other parts saw its audio.
V3_VOICES = (
    Voice("espeak-nyc-m5-170", "espeak", "en-us-nyc+m5", 170),
    Voice("piper-1.4", "piper", speed=1.4),
    Voice("espeak-cwmd-f2-155", "espeak", "en-gb-x-gbcwmd+f2", 155),
    Voice("espeak-clan-m1-185", "espeak", "en-gb-x-gbclan+m1", 185),
)
V3_SNRS: tuple[float | None, ...] = (15.0, None, 12.0)


class Synth:
    """Thread-safe synthesizers, one per voice (loaded on first use)."""

    def __init__(self) -> None:
        self._engines: dict[str, object] = {}
        self._lock = threading.Lock()

    def speak(self, voice: Voice, text: str) -> PCM16:
        with self._lock:
            engine = self._engines.get(voice.name)
            if engine is None:
                engine = self._engines[voice.name] = self._make(voice)
            clause = engine.synthesize_clause(text)  # type: ignore[attr-defined]
            samples: PCM16 = clause.samples
            return samples

    @staticmethod
    def _make(voice: Voice) -> object:
        if voice.engine == "piper":
            piper = _speech_module("piper")
            return piper.PiperTTS(RATE, piper.PiperOptions(deterministic=True,
                                                           length_scale=voice.speed))
        espeak = _speech_module("espeak")
        return espeak.EspeakTTS(RATE, espeak.EspeakOptions(voice=voice.voice,
                                                           rate_wpm=int(voice.speed)))


def _speech_module(name: str) -> Any:
    """`callcenter.speech.offline.<name>`, or `callcenter.speech.<name>` on older code (the
    baseline run lays this bench over a tree from before the speech package was split)."""
    import importlib

    try:
        return importlib.import_module(f"callcenter.speech.offline.{name}")
    except ModuleNotFoundError:
        return importlib.import_module(f"callcenter.speech.{name}")


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


def _add_noise(samples: PCM16, snr_db: float | None, seed: int) -> PCM16:
    if snr_db is None:
        return samples
    x = samples.astype(np.float64)
    voiced = x[np.abs(x) > 300]
    power = float(np.mean(voiced**2)) if len(voiced) else 1.0
    rng = np.random.default_rng(seed)
    # Pink-ish noise (white, lightly low-passed): closer to a street or a car than hiss.
    white = rng.standard_normal(len(x))
    noise = np.convolve(white, np.ones(4) / 4, mode="same")
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / float(np.mean(noise**2)))
    return np.clip(x + noise, -32768, 32767).astype(np.int16)


def caller_audio(
    synth: Synth, voice: Voice, text: str, snr_db: float | None, seed: int, cache: Path
) -> PCM16:
    """The line as the agent's room hears it (16 kHz after the phone line); cached."""
    path = cache / "audio" / f"{_key(voice, text, snr_db, seed)}.npy"
    if path.exists():
        cached: PCM16 = np.load(path)
        return cached
    rng = np.random.default_rng(seed)
    parts: list[PCM16] = [np.zeros(int(0.3 * RATE), np.int16)]
    for n, piece in enumerate(p.strip() for p in text.split("|")):
        if n:
            parts.append(np.zeros(int(rng.uniform(0.8, 1.2) * RATE), np.int16))
        parts.append(synth.speak(voice, piece))
    parts.append(np.zeros(int(2.5 * RATE), np.int16))
    clean = np.concatenate(parts)
    line = to_channel(_add_noise(clean, snr_db, seed), RATE, "phone")
    out = resample_pcm(line.samples, line.sample_rate, RATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of speech the VAD found, and what Whisper heard in it."""

    start_ms: float
    end_ms: float
    text: str
    stt_ms: float


def vad_segments(samples: PCM16) -> list[tuple[float, float]]:
    """(padded start, end) of each speech segment, from the session's VAD settings."""
    events: list[VADEvent] = []
    vad = VADStream(RATE, VoiceSettings().vad, on_event=events.append)
    for i in range(0, len(samples) - _FRAME + 1, _FRAME):
        vad.push_frame(AudioFrame(samples[i : i + _FRAME], RATE, 1000.0 * i / RATE))
    vad.close()
    out: list[tuple[float, float]] = []
    start: float | None = None
    for ev in events:
        if ev.kind is VADEventKind.SPEECH_START and start is None:
            start = ev.padded_start_ms
        elif ev.kind is VADEventKind.SPEECH_END and start is not None:
            out.append((start, ev.timestamp_ms))
            start = None
    if start is not None:
        out.append((start, 1000.0 * len(samples) / RATE))
    return out


class Transcriber:
    """Whisper tiny.en on each segment (the production `WhisperSTT`), cached on disk.

    `expect` is what the flow's Listen told the recognizer (None on code that cannot take
    it); the cache key holds it, so runs with and without it never mix transcripts.
    """

    def __init__(self, cache: Path) -> None:
        import inspect

        self.stt = _speech_module("whisper").WhisperSTT()
        self.takes_expectation = "expect" in inspect.signature(self.stt.transcribe).parameters
        self.path = cache / "transcripts.json"
        self.memo: dict[str, list[float | str]] = (
            json.loads(self.path.read_text()) if self.path.exists() else {})

    def segment(self, samples: PCM16, start_ms: float, end_ms: float,
                expect: object = None) -> Segment:
        # The listener forwards audio up to the speech-end event, plus the last frame.
        lo, hi = int(start_ms * RATE / 1000), int((end_ms + 20) * RATE / 1000)
        chunk = np.ascontiguousarray(samples[lo:hi])
        key = hashlib.sha256(chunk.tobytes()).hexdigest()[:24]
        if expect is not None:
            key = _key(key, repr(expect), repr(self.stt.options))
        hit = self.memo.get(key)
        if hit is None:
            began = time.perf_counter()
            kw: dict[str, Any] = {"expect": expect} if expect is not None else {}
            text = self.stt.transcribe(chunk, start_ms, **kw).text.strip()
            hit = self.memo[key] = [text, 1000.0 * (time.perf_counter() - began)]
        return Segment(start_ms, end_ms, str(hit[0]), float(hit[1]))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.memo))
