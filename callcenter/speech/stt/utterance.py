"""Buffer-then-decode STT streams for engines that are not streaming (Whisper, pocketsphinx).

Frames are buffered until our VAD calls `end_of_speech`; the utterance is then decoded by
an async `decode(samples, start_ms, expectation)` (which runs the engine in an executor),
with what the flow expected when the utterance ended. Utterances are decoded one at a
time, in order, so FINALs come out in speaking order.

Early decoding: the VAD declares a speech end only after `min_silence_ms` of silence, and
a model's probability trails the last word by 100-250 ms more. The stream sees the audio
go quiet sooner, from its level: after `early_after_ms` of quiet following speech it
decodes the speech so far at once. If the VAD's end of speech then comes with nothing
loud in between, that early result is the FINAL (it is ready that much sooner); if the
caller went on, it is thrown away and the whole utterance is decoded at the end as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.speech.errors import SpeechError
from callcenter.speech.outbox import Outbox
from callcenter.speech.stt.base import STTStream, Transcript, TranscriptKind
from callcenter.speech.stt.expect import Expectation

Decode = Callable[[PCM16, float, Expectation | None], Awaitable[Transcript]]

# A frame whose peak stays under this counts as quiet: -40 dBFS, the VAD's own quiet level
# (`VADSettings.quiet_dbfs`). Line noise above it simply means no early decoding.
QUIET_PEAK = 328
EARLY_AFTER_MS = 80.0
# The early snapshot is padded with silence to this much quiet after the words: about what
# the VAD's end of speech leaves in the buffer (Whisper's reading of the last word moves
# with the length of the quiet after it).
EARLY_TAIL_MS = 300.0
# Process-wide switch, read when a stream is made (`bench latency --no-early-stt` compares).
early_decoding = True


@dataclass(slots=True, eq=False)
class _Job:
    """One decode: a whole utterance, or the speech so far (`early`) awaiting its verdict."""

    samples: PCM16
    start_ms: float
    expect: Expectation | None
    early: bool = False
    # Set when the job's result may be published (at once for a whole utterance; for an
    # early one when the utterance ends, or when it is dropped).
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False
    # An early job's utterance end (media ms), set when it is used: its samples stop at the
    # quiet it was cut at, but the FINAL spans the utterance the VAD ended.
    utterance_end_ms: float | None = None


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
        early_after_ms: float | None = EARLY_AFTER_MS,
        quiet_peak: int = QUIET_PEAK,
    ) -> None:
        self._provider = provider
        self._rate = sample_rate
        self._decode = decode
        self._min_samples = min_speech_ms * sample_rate / 1000
        self._max_samples = max_speech_ms * sample_rate / 1000
        self._early_after = (None if early_after_ms is None or not early_decoding
                             else early_after_ms * sample_rate / 1000)
        self._quiet_peak = quiet_peak
        self._chunks: list[PCM16] = []
        self._buffered = 0
        self._start_ms: float | None = None
        self._loud_seen = False
        self._quiet = 0  # samples of quiet since the last loud frame
        self._early: _Job | None = None
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue()
        self._expect: Expectation | None = None
        self._out: Outbox[Transcript] = Outbox()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        # How often an early decode became the FINAL, and how often the caller went on.
        self.early_used = 0
        self.early_dropped = 0

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
        self._watch_level(frame.samples)

    def _watch_level(self, samples: PCM16) -> None:
        """Start an early decode after enough quiet; drop it if the caller goes on."""
        if self._early_after is None or not len(samples):
            return
        peak = max(int(samples.max()), -int(samples.min()))
        if peak >= self._quiet_peak:
            self._loud_seen, self._quiet = True, 0
            if self._early is not None:
                self._drop_early()  # the caller went on: the end decodes it all
            return
        if not self._loud_seen:
            return  # the pre-roll before the words
        self._quiet += len(samples)
        if (self._early is None and self._quiet >= self._early_after
                and self._buffered >= self._min_samples):
            pad = max(0, int(EARLY_TAIL_MS * self._rate / 1000) - self._quiet)
            self._early = _Job(np.concatenate([*self._chunks, np.zeros(pad, np.int16)]),
                               self._start_ms or 0.0, self._expect, early=True)
            self._submit(self._early)

    def _drop_early(self) -> None:
        job, self._early = self._early, None
        if job is not None:
            job.dropped = True
            job.settled.set()
            self.early_dropped += 1

    def expect(self, expectation: Expectation | None) -> None:
        self._expect = expectation

    def end_of_speech(self) -> None:
        if self._closed:
            return
        early, self._early = self._early, None
        if early is not None and early.expect is self._expect:
            # Nothing loud since it started: its words are all the words there are.
            early.utterance_end_ms = (self._start_ms or 0.0) + 1000.0 * self._buffered / self._rate
            early.settled.set()
            self.early_used += 1
        else:
            if early is not None:
                self._early = early
                self._drop_early()  # decoded for another question: decode again
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            job = _Job(samples, self._start_ms or 0.0, self._expect)
            job.settled.set()
            self._submit(job)
        self._chunks, self._buffered, self._start_ms = [], 0, None
        self._loud_seen, self._quiet = False, 0

    def _submit(self, job: _Job) -> None:
        self._jobs.put_nowait(job)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            job = await self._jobs.get()
            if job.dropped:
                continue  # the caller went on before it started: no model call
            result = await self._decoded(job)
            await job.settled.wait()  # an early job: until the utterance ends
            if job.dropped:
                continue
            if isinstance(result, Transcript) and job.utterance_end_ms is not None:
                result = replace(result, end_ms=job.utterance_end_ms)
            self._out.put(result)

    async def _decoded(self, job: _Job) -> Transcript | SpeechError:
        samples, start = job.samples, job.start_ms
        try:
            if len(samples) < self._min_samples:  # a click or a breath: no model call
                end = start + 1000.0 * len(samples) / self._rate
                return Transcript(
                    TranscriptKind.FINAL, "", start, end, produced_at=time.monotonic()
                )
            return await self._decode(samples, start, job.expect)
        except SpeechError as exc:
            return exc
        except Exception as exc:  # the native engine failed: surface it, don't hang
            return SpeechError(self._provider, f"decoding failed: {exc!r}")

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
