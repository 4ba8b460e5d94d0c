"""Buffer-then-decode STT streams for engines that are not streaming (Whisper, pocketsphinx).

Frames are buffered until our VAD calls `end_of_speech`; the utterance is then decoded by
an async `decode(samples, start_ms, expectation)` (which runs the engine in an executor),
with what the flow expected when the utterance ended. Utterances are decoded one at a
time, in order, so FINALs come out in speaking order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.speech.errors import SpeechError
from callcenter.speech.outbox import Outbox
from callcenter.speech.stt.base import STTStream, Transcript, TranscriptKind
from callcenter.speech.stt.expect import Expectation

Decode = Callable[[PCM16, float, Expectation | None], Awaitable[Transcript]]


class UtteranceSTTStream(STTStream):
    """One speaker's frames in; one FINAL transcript per `end_of_speech`."""

    def __init__(
        self,
        provider: str,
        sample_rate: int,
        decode: Decode,
        *,
        min_speech_ms: float = 120.0,
        max_speech_ms: float = 29_000.0,
    ) -> None:
        self._provider = provider
        self._rate = sample_rate
        self._decode = decode
        self._min_samples = min_speech_ms * sample_rate / 1000
        self._max_samples = max_speech_ms * sample_rate / 1000
        self._chunks: list[PCM16] = []
        self._buffered = 0
        self._start_ms: float | None = None
        self._segments: asyncio.Queue[tuple[PCM16, float, Expectation | None]] = (
            asyncio.Queue())
        self._expect: Expectation | None = None
        self._out: Outbox[Transcript] = Outbox()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    def push_frame(self, frame: AudioFrame) -> None:
        if self._closed:
            return
        if frame.sample_rate != self._rate:
            raise ValueError(
                f"{self._provider} takes {self._rate} Hz frames, got {frame.sample_rate} Hz: "
                "resample with callcenter.audio.StreamResampler first"
            )
        if self._start_ms is None:
            self._start_ms = frame.timestamp_ms
        # Past the engine's window the rest is dropped rather than decoded twice as slow.
        if self._buffered < self._max_samples:
            self._chunks.append(frame.samples)
            self._buffered += len(frame.samples)

    def expect(self, expectation: Expectation | None) -> None:
        self._expect = expectation

    def end_of_speech(self) -> None:
        if self._closed:
            return
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        start = self._start_ms or 0.0
        self._chunks, self._buffered, self._start_ms = [], 0, None
        self._segments.put_nowait((samples, start, self._expect))
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            samples, start, expect = await self._segments.get()
            try:
                if len(samples) < self._min_samples:  # a click or a breath: no model call
                    end = start + 1000.0 * len(samples) / self._rate
                    result = Transcript(
                        TranscriptKind.FINAL, "", start, end, produced_at=time.monotonic()
                    )
                else:
                    result = await self._decode(samples, start, expect)
            except SpeechError as exc:
                self._out.put(exc)
                continue
            except Exception as exc:  # the native engine failed: surface it, don't hang
                self._out.put(SpeechError(self._provider, f"decoding failed: {exc!r}"))
                continue
            self._out.put(result)

    def __aiter__(self) -> AsyncIterator[Transcript]:
        return self._out.__aiter__()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._out.end()
