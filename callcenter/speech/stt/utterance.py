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

Turns of several utterances: a caller reading a number in groups ("two one | five eight |
eight zero") pauses about a second between them, the voice session holds the turn open
(`continue_turn`), and each group gets its own FINAL, which drives the endpointing. Alone
and without context Whisper often mishears a 0.8 s group ("I made." for "five eight"), so
the stream keeps the turn's audio and `decode_turn` reads it as one utterance: the groups
joined with each pause cut to `TURN_PAUSE_MS` of its own audio (`join_segments`), with
what the flow expects. Only turns of more than one utterance pay that one extra decode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
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
# A turn read as one utterance (`join_segments`): each pause between two of its speech
# segments cut to this much of the line's own audio. The VAD leaves ~0.3 s of pre-roll and
# 0.25-0.4 s of trailing quiet on every segment, so a 1 s pause arrives as ~0.6 s of quiet.
# On the bench's tuning lines 200-500 ms changed 3 of 22 readings: at 400 tiny.en more
# often ends a group with a stop ("201. 773.") rather than running it into the next; at
# 500 one looped.
TURN_PAUSE_MS = 400.0
_BLOCK_MS = 10.0

log = logging.getLogger(__name__)


def _quiet_edges(samples: PCM16, rate: int) -> tuple[int, int]:
    """Samples of quiet before the first and after the last speech in a segment.

    Measured against the segment's own levels (10 ms blocks: louder than the geometric
    mean of its noise floor and its speech, and than speech -30 dB), so line noise at
    10 dB SNR is quiet too.
    """
    block = max(1, int(rate * _BLOCK_MS / 1000))
    n = len(samples) // block
    if n < 3:
        return 0, 0
    x = samples[: n * block].astype(np.float64).reshape(n, block)
    rms = np.sqrt((x * x).mean(axis=1))
    loud = float(np.percentile(rms, 95))
    floor = float(np.percentile(rms, 10))
    threshold = max(math.sqrt(max(floor, 1.0) * loud), loud / 30.0)
    above = np.flatnonzero(rms > threshold)
    if not len(above):
        return 0, 0
    return int(above[0]) * block, len(samples) - (int(above[-1]) + 1) * block


def join_segments(segments: Sequence[PCM16], sample_rate: int, *,
                  pause_ms: float = TURN_PAUSE_MS) -> PCM16:
    """A turn's speech segments as one utterance: each pause between two of them cut to
    `pause_ms` of its own audio (the end of one's quiet, the start of the next one's:
    not zeros, the line keeps its sound), the first's lead-in and the last's tail kept.

    Where the quiet at a seam is shorter than `pause_ms` it is all kept.
    """
    parts = [s for s in segments if len(s)]
    if not parts:
        return np.zeros(0, np.int16)
    pause = int(pause_ms * sample_rate / 1000)
    edges = [_quiet_edges(s, sample_rate) for s in parts]
    head_cut = [0] * len(parts)
    tail_cut = [0] * len(parts)
    for i in range(len(parts) - 1):
        quiet_a, quiet_b = edges[i][1], edges[i + 1][0]
        keep_a = min(quiet_a, max(pause // 2, pause - quiet_b))
        keep_b = min(quiet_b, pause - keep_a)
        tail_cut[i], head_cut[i + 1] = quiet_a - keep_a, quiet_b - keep_b
    return np.concatenate(
        [s[head_cut[i]: len(s) - tail_cut[i]] for i, s in enumerate(parts)]).astype(np.int16)


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
    # A turn's reading (`decode_turn`): its result goes here, not to the FINALs.
    reply: asyncio.Future[Transcript | SpeechError] | None = None


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
        # The turn's finished segments (samples, start ms, end ms), kept for `decode_turn`:
        # the last one always, the ones before it while the session says the turn goes on.
        self._turn: list[tuple[PCM16, float, float]] = []
        self._turn_whole = True  # False once a segment did not fit in the engine's window
        self._continues = False
        self._replies: set[asyncio.Future[Transcript | SpeechError]] = set()
        self.turn_decodes = 0
        # A second recognizer for `hear_again` (a larger model; None: no second hearing),
        # and the last committed turn's segments with what was expected of it.
        self.second_decode: Decode | None = None
        self._last_turn: list[tuple[PCM16, float, float]] = []
        self._last_expect: Expectation | None = None
        self.second_hearings = 0

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

    def continue_turn(self) -> None:
        self._continues = True

    def end_turn(self) -> None:
        # Kept until the next turn ends: the flow may not understand this one and ask for
        # a second hearing of it (the expectation is cleared once the listen is over).
        self._last_turn = self._turn if self._turn_whole else []
        self._last_expect = self._expect
        self._turn, self._turn_whole, self._continues = [], True, False

    @property
    def hears_again(self) -> bool:
        return self.second_decode is not None

    async def hear_again(self) -> Transcript | None:
        if self._closed or self.second_decode is None or not self._last_turn:
            return None
        segments = self._last_turn
        samples = (join_segments([s for s, _, _ in segments], self._rate) if len(segments) > 1
                   else segments[0][0])
        self.second_hearings += 1
        try:
            result = await self.second_decode(samples, segments[0][1], self._last_expect)
        except SpeechError as exc:
            log.warning("%s: the second hearing failed (%s): the first reading stands",
                        self._provider, exc)
            return None
        return replace(result, end_ms=segments[-1][2], words=[])

    def _keep(self, samples: PCM16, start_ms: float, end_ms: float) -> None:
        if not self._continues:
            self._turn, self._turn_whole = [], True
        self._continues = False
        if len(samples) < self._min_samples:
            return  # a click or a breath: not part of the turn's reading
        if sum(len(s) for s, _, _ in self._turn) + len(samples) > self._max_samples:
            self._turn_whole = False  # past the engine's window: no reading of it all
            return
        self._turn.append((samples, start_ms, end_ms))

    async def decode_turn(self) -> Transcript | None:
        if self._closed or len(self._turn) < 2 or not self._turn_whole:
            return None
        segments = list(self._turn)
        samples = join_segments([s for s, _, _ in segments], self._rate)
        reply: asyncio.Future[Transcript | SpeechError] = (
            asyncio.get_running_loop().create_future())
        job = _Job(samples, segments[0][1], self._expect, reply=reply)
        job.settled.set()
        self._replies.add(reply)
        self.turn_decodes += 1
        try:
            self._submit(job)
            # Cancelling the caller cancels `reply`: the worker then skips the job.
            result = await reply
        finally:
            self._replies.discard(reply)
        if isinstance(result, SpeechError):
            log.warning("%s: the turn's reading failed (%s): its segments' texts stand",
                        self._provider, result)
            return None
        # Its audio is shorter than the turn (the pauses were cut): the turn's own span.
        return replace(result, end_ms=segments[-1][2], words=[])

    def end_of_speech(self) -> None:
        if self._closed:
            return
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        start_ms = self._start_ms or 0.0
        self._keep(samples, start_ms, start_ms + 1000.0 * self._buffered / self._rate)
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
            job = _Job(samples, start_ms, self._expect)
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
            if job.dropped or (job.reply is not None and job.reply.done()):
                continue  # the caller went on before it started: no model call
            result = await self._decoded(job)
            if job.reply is not None:
                if not job.reply.done():
                    job.reply.set_result(result)
                continue
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
        for reply in list(self._replies):
            reply.cancel()
        self._out.end()
