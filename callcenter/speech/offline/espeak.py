"""Offline TTS fallback: eSpeak NG through ctypes, from the `espeakng-loader` wheel.

Robotic but very fast (a few ms per sentence) and with real word timing: eSpeak reports
a WORD event with the audio position of every word. The library keeps global state and
is not thread-safe, so one process-wide instance is driven under a lock.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callcenter.audio.frame import PCM16
from callcenter.audio.resample import resample_pcm
from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.executor import BoundedExecutor
from callcenter.speech.offline.loader import LazyModel
from callcenter.speech.tts.base import TTS
from callcenter.speech.tts.clause_stream import ClauseAudio, ClauseTTSStream, voiced_span_ms
from callcenter.speech.types import Word

# Values from eSpeak NG's public header, speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character offset in the input
        ("length", ctypes.c_int),  # characters in the word
        ("audio_position", ctypes.c_int),  # ms from the start of this synthesis
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Engine:
    """The one eSpeak NG instance in this process."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise SpeechError(
                "espeak",
                "espeakng-loader is not installed: pip install 'callcenter[local]'",
                retryable=False,
            ) from exc
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        self.lib.espeak_Initialize.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        )
        self.lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        )
        self.lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        self.lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        # buflength 100 ms: the callback gets audio in ~100 ms pieces.
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 100, data_parent, _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise SpeechError(
                "espeak",
                f"espeak_Initialize failed ({rate}) with data at "
                f"{data_parent.decode()}: reinstall espeakng-loader",
                retryable=False,
            )
        self.sample_rate = int(rate)
        self.lock = threading.Lock()
        self._chunks: list[PCM16] = []
        self._words: list[tuple[int, int, int]] = []
        # Keep a reference: ctypes callbacks must outlive every call into the library.
        self._callback = _CALLBACK(self._on_audio)
        self.lib.espeak_SetSynthCallback(self._callback)
        self._voice: tuple[str, int, int] | None = None

    def _on_audio(
        self, wav: ctypes._Pointer[ctypes.c_short], n: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).astype(np.int16))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_WORD:
                self._words.append((ev.text_position, ev.length, ev.audio_position))
            i += 1
        return 0  # 0 = continue synthesis

    def synthesize(
        self, text: str, voice: str, rate_wpm: int, pitch: int
    ) -> tuple[PCM16, list[tuple[int, int, int]]]:
        with self.lock:
            if self._voice != (voice, rate_wpm, pitch):
                if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    raise SpeechError(
                        "espeak",
                        f"voice {voice!r} not found in the eSpeak data; try 'en-us' or 'en'",
                        retryable=False,
                    )
                self.lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
                self.lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
                self._voice = (voice, rate_wpm, pitch)
            self._chunks, self._words = [], []
            data = text.encode() + b"\0"
            err = self.lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            if err != 0:
                raise SpeechError("espeak", f"espeak_Synth failed with code {err}")
            pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return pcm, list(self._words)


# The library has one global state per process, so there is one engine per process.
_ENGINE = LazyModel(_Engine)


@dataclass(slots=True, frozen=True)
class EspeakOptions:
    """Voice settings (eSpeak voice name, words per minute, pitch 0-100)."""

    voice: str = "en-us"
    rate_wpm: int = 165
    pitch: int = 50
    chunk_ms: float = 100.0


class EspeakTTS(TTS):
    """Streaming eSpeak NG TTS; output at `sample_rate` (default 16 kHz)."""

    name = "espeak"

    def __init__(
        self,
        sample_rate: int = 16000,
        options: EspeakOptions | None = None,
        *,
        executor: BoundedExecutor | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.options = options or EspeakOptions()
        self._executor = executor or BoundedExecutor("espeak", workers=1, max_pending=64)

    def stream(self, *, voice: str | None = None) -> ClauseTTSStream:
        chosen = voice or self.options.voice

        def synth(text: str) -> ClauseAudio:
            return self.synthesize_clause(text, voice=chosen)

        return ClauseTTSStream(
            self.name, synth, self._executor, self.sample_rate, chunk_ms=self.options.chunk_ms
        )

    def synthesize_clause(self, text: str, *, voice: str | None = None) -> ClauseAudio:
        """Blocking: one clause to audio at `sample_rate`, with eSpeak's word times."""
        engine = _ENGINE.get()
        opts = self.options
        pcm, events = engine.synthesize(text, voice or opts.voice, opts.rate_wpm, opts.pitch)
        pcm = resample_pcm(pcm, engine.sample_rate, self.sample_rate)
        _, speech_end = voiced_span_ms(pcm, self.sample_rate)
        words: list[Word] = []
        for n, (pos, length, at_ms) in enumerate(events):
            end = events[n + 1][2] if n + 1 < len(events) else max(speech_end, at_ms)
            token = text[pos - 1 : pos - 1 + length].strip() or text[pos - 1 :].split(" ")[0]
            words.append(Word(token, float(at_ms), float(end)))
        return ClauseAudio(pcm, words)

    async def aclose(self) -> None:
        self._executor.shutdown()
