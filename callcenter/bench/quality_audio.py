"""Caller audio for the quality bench: voices, pauses, noise, the phone line, and turns.

Each labelled line is spoken by one voice (`quality_voices`: Piper, Flite, Festival,
eSpeak NG at several speeds and pitches), with a pause of about a second wherever the
text has " | ", noise at the item's SNR, through the phone channel (300-3400 Hz, 8 kHz
mu-law) and back up to the 16 kHz the voice session asks the room for. Audio and
Whisper transcripts are cached under the data dir: they depend on the voice, the words
and the recognizer's options, not on the flow code under test.

Turns are cut the way `VoiceSession` cuts them: the real Silero `VADStream` with the
session's settings finds speech segments, Whisper transcribes each segment, and
`voice.endpointing.endpoint_delay` (on the text so far) decides whether the next segment
continues the turn. A gap shorter than that delay bridges; a longer one ends the turn.
A turn of several segments is then read again as one utterance, as the STT stream does
for the session (`speech.stt.utterance.join_segments`; not on code that lacks it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.resample import resample_pcm
from callcenter.audio.vad import VADEvent, VADEventKind, VADStream
from callcenter.bench.quality_voices import Synth, Voice, speech_module
from callcenter.speech.stt import utterance as _utterance
from callcenter.testing.voices import to_channel
from callcenter.voice.settings import VoiceSettings

# The baseline run lays these files over older code, which reads segments only.
_join_segments: Callable[..., PCM16] | None = getattr(_utterance, "join_segments", None)

log = logging.getLogger(__name__)
RATE = 16000


def _second_tier() -> Any:
    """The production second tier (`whisper_tiers`, LOCAL_STT_SECOND_MODEL) as its own
    Whisper STT, or None: off in the settings, its model not installed, or older code."""
    try:
        from callcenter.config import get_settings

        second = get_settings().local_stt_second_model
        stt = speech_module("whisper_tiers").TieredWhisperSTT(second_model=second).second
        stt.warm_up()
    except (ImportError, AttributeError, ValueError) as exc:
        log.info("bench quality: no second hearing (%s)", exc)
        return None
    except Exception as exc:  # its model package missing (a SpeechError), or it failed
        log.warning("bench quality: no second hearing (%s)", exc)
        return None
    return stt


def _join_segments_or_fail(chunks: list[PCM16]) -> PCM16:
    if _join_segments is None:
        raise RuntimeError("this code cannot join a turn's segments")
    return _join_segments(chunks, RATE)
_FRAME = RATE // 50  # 20 ms, as rooms deliver it


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
    # The recognizer's confidence in the reading (Whisper: exp of its mean token log-prob),
    # which the call session passes to the flow: a low one gets a digit answer read back.
    confidence: float = 1.0
    # Other readings to try if the flow misses `text` (`Transcript.alternatives`).
    alternatives: tuple[str, ...] = ()


def vad_segments(samples: PCM16) -> list[tuple[float, float]]:
    """(padded start, end) of each speech segment, from the session's VAD settings and
    at the rate the session's VAD runs at for this input (`vad_rate_at`, on code that has
    it: older code ran the VAD at the input rate)."""
    events: list[VADEvent] = []
    settings = VoiceSettings()
    rate_at: Callable[[int], int] | None = getattr(settings, "vad_rate_at", None)
    vad_rate = RATE if rate_at is None else rate_at(RATE)
    kw: dict[str, Any] = {} if vad_rate == RATE else {"input_rate": RATE}
    vad = VADStream(vad_rate, settings.vad, on_event=events.append, **kw)
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
    it); the cache key holds it and the recognizer's options, so runs with and without it,
    or on another model, never mix transcripts.
    """

    def __init__(self, cache: Path) -> None:
        import inspect

        self.stt = speech_module("whisper").WhisperSTT()
        self.second = _second_tier()
        self.takes_expectation = "expect" in inspect.signature(self.stt.transcribe).parameters
        self.path = cache / "transcripts.json"
        self.memo: dict[str, list[float | str]] = (
            json.loads(self.path.read_text()) if self.path.exists() else {})

    def key(self, chunk: PCM16, expect: object = None, stt: Any = None) -> str:
        """The cache key of one segment's transcript.

        The recognizer's options (its model among them: LOCAL_STT_MODEL) are in every key,
        with or without an expectation, so a run on another model (or the second tier)
        never reads transcripts another model made.
        """
        return _key(hashlib.sha256(chunk.tobytes()).hexdigest()[:24],
                    None if expect is None else repr(expect),
                    repr(getattr(stt or self.stt, "options", None)))

    @staticmethod
    def chunk(samples: PCM16, start_ms: float, end_ms: float) -> PCM16:
        """A segment's audio as the STT stream gets it: the listener forwards it from the
        padded start up to the speech-end event, plus the last frame."""
        lo, hi = int(start_ms * RATE / 1000), int((end_ms + 20) * RATE / 1000)
        return np.ascontiguousarray(samples[lo:hi])

    def segment(self, samples: PCM16, start_ms: float, end_ms: float,
                expect: object = None) -> Segment:
        return self._read(self.chunk(samples, start_ms, end_ms), start_ms, end_ms, expect)

    @property
    def reads_turns(self) -> bool:
        """The code under test reads a turn of several segments as one utterance."""
        return _join_segments is not None

    def turn(self, samples: PCM16, segments: list[Segment], expect: object = None) -> Segment:
        """A turn of several segments read as one utterance, as `UtteranceSTTStream.
        decode_turn` reads it: the segments' audio joined by `join_segments`."""
        assert _join_segments is not None
        joined = _join_segments(
            [self.chunk(samples, s.start_ms, s.end_ms) for s in segments], RATE)
        return self._read(np.ascontiguousarray(joined), segments[0].start_ms,
                          segments[-1].end_ms, expect)

    def hear_again(self, samples: PCM16, segments: list[Segment],
                   expect: object = None) -> Segment:
        """A turn the flow did not understand, read by the second tier as
        `UtteranceSTTStream.hear_again` reads it (one segment as it was, more joined)."""
        assert self.second is not None
        chunks = [self.chunk(samples, s.start_ms, s.end_ms) for s in segments]
        audio = chunks[0] if len(chunks) == 1 else _join_segments_or_fail(chunks)
        return self._read(np.ascontiguousarray(audio), segments[0].start_ms,
                          segments[-1].end_ms, expect, stt=self.second)

    def _read(self, chunk: PCM16, start_ms: float, end_ms: float, expect: object,
              stt: Any = None) -> Segment:
        stt = stt or self.stt
        key = self.key(chunk, expect, stt)
        hit = self.memo.get(key)
        if hit is None or len(hit) < 3:  # not read yet, or cached before confidences were
            began = time.perf_counter()
            kw: dict[str, Any] = {"expect": expect} if expect is not None else {}
            heard = stt.transcribe(chunk, start_ms, **kw)
            hit = self.memo[key] = [heard.text.strip(), 1000.0 * (time.perf_counter() - began),
                                    float(getattr(heard, "confidence", 1.0)),
                                    *getattr(heard, "alternatives", ())]
        return Segment(start_ms, end_ms, str(hit[0]), float(hit[1]), float(hit[2]),
                       tuple(str(a) for a in hit[3:]))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.memo))
