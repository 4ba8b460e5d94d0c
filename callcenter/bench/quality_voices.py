"""The synthetic callers of the quality bench: who speaks which part, and how.

Two families. "natural" voices are recorded-speech synthesizers (Piper, Flite's clustergen
and diphone voices, Festival's HTS and diphone voices): the closest stand-ins for people
on this machine. "hard" voices are eSpeak NG formant variants: robotic, often misheard by
Whisper, kept as a part reported on its own so they neither hide nor dominate the figure.

Flite and Festival are Debian packages (`scripts/setup` installs them); their speed and
pitch are changed with sox (`tempo`, `pitch`) so one voice gives several callers.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.audio.frame import PCM16

RATE = 16000
NATURAL, HARD = "natural", "hard"


@dataclass(frozen=True, slots=True)
class Voice:
    """One synthetic caller: engine, voice name, speed, pitch.

    `speed`: Piper length scale, eSpeak words per minute, or the sox tempo factor for
    Flite and Festival. `pitch` (cents, sox) stays out of the repr: the audio cache is keyed
    on the repr, and the older voices' keys must not change (the name tells voices apart).
    """

    name: str
    engine: str
    voice: str = ""
    speed: float = 1.0
    pitch: int = field(default=0, repr=False)

    @property
    def family(self) -> str:
        return HARD if self.engine == "espeak" else NATURAL


# Tuning voices and held-out voices never overlap (the held-out part is new in voice too).
TUNE_VOICES = (
    Voice("piper-1.0", "piper", speed=1.0),
    Voice("piper-slow", "piper", speed=1.25),
    Voice("espeak-us-160", "espeak", "en-us", 160),
    Voice("espeak-029-150", "espeak", "en-029", 150),
)
# Natural voices for tuning: a sample of the tuning lines is spoken again by these.
TUNE_NATURAL_VOICES = (
    Voice("flite-kal16", "flite", "kal16", 1.0),
    Voice("festival-kal-0.95", "festival", "kal_diphone", 0.95),
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
# Held-out v4 (the set's `heldout_v4`): natural voices, speeds and pitches no other part
# uses, clean and at 20 and 10 dB SNR.
V4_VOICES = (
    Voice("flite-slt", "flite", "slt", 1.0),
    Voice("festival-slt-hts", "festival", "cmu_us_slt_arctic_hts", 1.0),
    Voice("flite-rms-0.9-low", "flite", "rms", 0.9, -150),
    Voice("festival-ked-1.1", "festival", "ked_diphone", 1.1),
    Voice("flite-awb-1.1", "flite", "awb", 1.1),
    Voice("flite-slt-0.85-high", "flite", "slt", 0.85, 200),
)
# The same v4 lines (every other one) in eSpeak variants no other part uses: v4's hard part.
V4_HARD_VOICES = (
    Voice("espeak-f4-165", "espeak", "en-us+f4", 165),
    Voice("espeak-rp-m2-150", "espeak", "en-gb-x-rp+m2", 150),
    Voice("espeak-m6-175", "espeak", "en-us+m6", 175),
)
# Held-out v5 (the set's `heldout_v5`): natural voices at speeds and pitches no other part
# uses (Flite's 8 kHz kal among them, a phone-band voice), and its hard part in eSpeak
# variants no other part uses.
V5_VOICES = (
    Voice("flite-kal-1.05", "flite", "kal", 1.05),
    Voice("flite-rms-1.15-high", "flite", "rms", 1.15, 150),
    Voice("festival-ked-0.9-low", "festival", "ked_diphone", 0.9, -120),
    Voice("festival-slt-hts-1.15", "festival", "cmu_us_slt_arctic_hts", 1.15),
    Voice("flite-awb-0.9-low", "flite", "awb", 0.9, -100),
)
V5_HARD_VOICES = (
    Voice("espeak-f5-160", "espeak", "en-us+f5", 160),
    Voice("espeak-en-m4-170", "espeak", "en+m4", 170),
)
ALL_VOICES = (*TUNE_VOICES, *TUNE_NATURAL_VOICES, *HELDOUT_VOICES, *FRESH_VOICES,
              *V3_VOICES, *V4_VOICES, *V4_HARD_VOICES, *V5_VOICES, *V5_HARD_VOICES)


def voice_named(name: str) -> Voice:
    found = next((v for v in ALL_VOICES if v.name == name), None)
    if found is None:
        raise ValueError(f"no bench voice named {name!r}: choose one of "
                         + ", ".join(v.name for v in ALL_VOICES))
    return found


class Synth:
    """Thread-safe synthesizers, one per voice (loaded on first use)."""

    def __init__(self) -> None:
        self._engines: dict[str, object] = {}
        self._lock = threading.Lock()

    def speak(self, voice: Voice, text: str) -> PCM16:
        if voice.engine in ("flite", "festival"):
            return _external(voice, text)
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
            piper = speech_module("piper")
            return piper.PiperTTS(RATE, piper.PiperOptions(deterministic=True,
                                                           length_scale=voice.speed))
        espeak = speech_module("espeak")
        return espeak.EspeakTTS(RATE, espeak.EspeakOptions(voice=voice.voice,
                                                           rate_wpm=int(voice.speed)))


def speech_module(name: str) -> Any:
    """`callcenter.speech.offline.<name>`, or `callcenter.speech.<name>` on older code (the
    baseline run lays this bench over a tree from before the speech package was split)."""
    import importlib

    try:
        return importlib.import_module(f"callcenter.speech.offline.{name}")
    except ModuleNotFoundError:
        return importlib.import_module(f"callcenter.speech.{name}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: the quality bench's natural voices need"
                           " it; run scripts/setup (it installs flite, festival and sox)")
    return path


def _external(voice: Voice, text: str) -> PCM16:
    """Flite or Festival into a WAV, then sox to 16 kHz mono with the voice's tempo/pitch."""
    with tempfile.TemporaryDirectory(prefix="quality-voice-") as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        if voice.engine == "flite":
            cmd = [_tool("flite"), "-voice", voice.voice, "-t", text, "-o", str(raw)]
            stdin = None
        else:
            cmd = [_tool("text2wave"), "-eval", f"(voice_{voice.voice})", "-o", str(raw)]
            stdin = text
        _run(cmd, stdin, voice)
        effects = ["rate", str(RATE)]
        if voice.speed != 1.0:
            effects = ["tempo", "-s", str(voice.speed), *effects]
        if voice.pitch:
            effects = ["pitch", str(voice.pitch), *effects]
        _run([_tool("sox"), str(raw), "-b", "16", "-c", "1", str(out), *effects], None, voice)
        with wave.open(str(out), "rb") as w:
            samples: PCM16 = np.frombuffer(w.readframes(w.getnframes()), np.int16).copy()
    return samples


def _run(cmd: list[str], stdin: str | None, voice: Voice) -> None:
    try:
        subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True,
                       timeout=120)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"voice {voice.name}: {Path(cmd[0]).name} failed"
                           f" ({exc.stderr.strip()[-300:]}); is its voice package installed?"
                           " run scripts/setup") from exc
