"""Clause-by-clause streaming shared by the offline TTS engines (Piper, eSpeak).

Text arrives in pieces (an LLM's tokens). We cut it at clause boundaries, synthesize one
clause at a time in a bounded executor, and stream each clause's audio in small chunks,
so the first audio never waits for the whole reply. `aclose()` cancels: the clause being
synthesized is dropped and nothing after it is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.executor import BoundedExecutor
from callcenter.speech.outbox import Outbox
from callcenter.speech.tts.base import TTSAudio, TTSStream
from callcenter.speech.tts.clauses import ClauseSplitter
from callcenter.speech.types import Word

_WORD = re.compile(r"\S+")


def proportional_words(text: str, start_ms: float, end_ms: float) -> list[Word]:
    """Spread [start_ms, end_ms] over the clause's words in proportion to their length.

    An estimate for engines that report no timing: good to a word or so, which is what
    "how much did the caller hear" needs.
    """
    tokens = _WORD.findall(text)
    if not tokens:
        return []
    weights = np.array([len(t) + 1 for t in tokens], dtype=np.float64)
    edges = start_ms + (end_ms - start_ms) * np.concatenate([[0.0], np.cumsum(weights)]) / (
        weights.sum()
    )
    spans = zip(tokens, edges[:-1], edges[1:], strict=True)
    return [Word(t, float(a), float(b)) for t, a, b in spans]


def voiced_span_ms(samples: PCM16, rate: int, threshold: int = 300) -> tuple[float, float]:
    """Where the audible part of a clause starts and ends (engines pad with silence)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if len(loud) == 0:
        return 0.0, 1000.0 * len(samples) / rate
    return 1000.0 * loud[0] / rate, 1000.0 * (loud[-1] + 1) / rate


@dataclass(slots=True)
class ClauseAudio:
    """One synthesized clause: audio at the stream's rate, words relative to its start."""

    samples: PCM16
    words: list[Word]


_END = object()


class ClauseTTSStream(TTSStream):
    """A TTSStream that synthesizes with a blocking `synthesize(clause) -> ClauseAudio`."""

    def __init__(
        self,
        provider: str,
        synthesize: Callable[[str], ClauseAudio],
        executor: BoundedExecutor,
        sample_rate: int,
        *,
        chunk_ms: float = 100.0,
    ) -> None:
        self._provider = provider
        self._synthesize = synthesize
        self._executor = executor
        self._rate = sample_rate
        self._chunk = max(1, round(sample_rate * chunk_ms / 1000))
        # Cut at every boundary: the engine synthesizes one clause at a time, so a shorter
        # first clause is earlier first audio (the voice session already groups LLM text).
        self._splitter = ClauseSplitter(first_min_words=1, min_words=1)
        self._clauses: asyncio.Queue[str | object] = asyncio.Queue()
        self._out: Outbox[TTSAudio] = Outbox()
        self._worker: asyncio.Task[None] | None = None
        self._ended = False
        self._closed = False
        self._position_ms = 0.0

    def push_text(self, text: str) -> None:
        if self._ended or self._closed:
            raise RuntimeError(f"{self._provider}: push_text after end_input/aclose")
        for clause in self._splitter.push(text):
            self._enqueue(clause)

    def flush(self) -> None:
        for rest in self._splitter.flush():
            self._enqueue(rest)

    def end_input(self) -> None:
        if self._ended or self._closed:
            return
        self.flush()
        self._ended = True
        self._enqueue(_END)

    def _enqueue(self, item: str | object) -> None:
        self._clauses.put_nowait(item)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            item = await self._clauses.get()
            if item is _END:
                # An empty final chunk marks the end: the last clause's audio has gone out.
                end = AudioFrame(np.zeros(0, np.int16), self._rate, self._position_ms)
                self._out.put(TTSAudio(end, is_final=True))
                self._out.end()
                return
            assert isinstance(item, str)
            try:
                clause = await self._executor.run(functools.partial(self._synthesize, item))
            except SpeechError as exc:
                self._out.put(exc)
                return
            except Exception as exc:  # native engine failure: end the stream with an error
                self._out.put(SpeechError(self._provider, f"synthesis failed: {exc!r}"))
                return
            self._emit(clause)

    def _emit(self, clause: ClauseAudio) -> None:
        base = self._position_ms
        words = [
            Word(w.text, base + w.start_ms, base + w.end_ms, w.confidence) for w in clause.words
        ]
        for i in range(0, max(len(clause.samples), 1), self._chunk):
            piece = clause.samples[i : i + self._chunk]
            ts = base + 1000.0 * i / self._rate
            self._out.put(
                TTSAudio(AudioFrame(piece, self._rate, ts), words if i == 0 else [])
            )
        self._position_ms = base + 1000.0 * len(clause.samples) / self._rate

    def __aiter__(self) -> AsyncIterator[TTSAudio]:
        return self._out.__aiter__()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        # Drop queued audio: a cancelled utterance must not keep playing.
        self._out.drop()
        self._out.end()
