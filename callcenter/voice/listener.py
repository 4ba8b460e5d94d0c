"""One participant's ears: room audio -> VAD -> (speech only) STT -> transcripts.

The per-frame path is kept short on purpose (it runs 50 times a second per speaker): push
the frame into the VAD (which copies it into a preallocated window), remember it in a
small pre-roll ring, and forward it to the STT only while the participant is speaking.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.resample import StreamResampler
from callcenter.audio.vad import BatchedSileroVAD, Scorer, VADEvent, VADEventKind, VADStream
from callcenter.rooms.base import Participant
from callcenter.rooms.clock import Clock
from callcenter.speech import STT, STTStream, Transcript, TranscriptKind
from callcenter.voice.settings import VoiceSettings
from callcenter.voice.turns import wait_event

# ~-40 dBFS: the level above which a sample counts as voice when refining VAD edges.
_LEVEL = 300
# Silero's probability decays slowly after the last word: look this far back for the end.
_END_SEARCH_MS = 350.0
# How far the VAD's judgement may trail the audio that arrived (its batch runs in a worker
# thread; a loaded host starves it) with the STT still given the words from their onset:
# the pre-roll ring holds this much more than the padding and the detection delay.
_VAD_LAG_MS = 1000.0
# Longest frame a room delivers: on time, audio up to one frame before now has arrived.
_FRAME_MS = 20.0
# Waiting for late audio (`wait_caught_up`): checked every _CHECK_S of clock time, and
# given up after _QUIET_CHECKS checks in a row without a new frame (a stream that stopped
# sending). A stalled loop, however long the stall, costs one check.
_CHECK_S = 0.1
_QUIET_CHECKS = 5


class TurnSink(Protocol):
    """Where a listener reports what it hears: the owner of the turn logic (`VoiceSession`)."""

    def observe_frame(self, frame: AudioFrame) -> None:
        """Every frame as it arrives (media-time mapping, lateness)."""

    def on_speech_start(self, listener: ParticipantListener, ev: VADEvent) -> None: ...

    def on_speaking(self, listener: ParticipantListener, speech_ms: float) -> None:
        """Every frame while the participant speaks (`speech_ms` since the onset)."""

    def on_speech_end(self, listener: ParticipantListener, ev: VADEvent) -> None: ...

    def on_transcript(self, listener: ParticipantListener, t: Transcript) -> None: ...

    def on_listener_ended(self, listener: ParticipantListener) -> None:
        """The participant's audio stream ended (they left)."""

    def on_listener_failed(self, listener: ParticipantListener, exc: Exception) -> None:
        """Hearing the participant broke (the recognizer or the audio stream raised)."""


class ParticipantListener:
    """Listens to one participant and reports to a `TurnSink` (which owns the turn logic)."""

    def __init__(
        self,
        sink: TurnSink,
        participant: Participant,
        audio: AsyncIterator[AudioFrame],
        stt: STT,
        settings: VoiceSettings,
        *,
        sample_rate: int,
        scorer: Scorer | None,
    ) -> None:
        self.sink = sink
        self.participant = participant
        self.identity = participant.identity
        # The VAD's model runs at `settings.vad_rate` (8 kHz: see VoiceSettings), fed the
        # room's frames through a 2:1 decimator when they come at 16 kHz; its times are
        # media times either way. The session's shared batcher follows its input rate:
        # the one at the VAD's rate is taken instead.
        vad_rate = settings.vad_rate_at(sample_rate)
        if isinstance(scorer, BatchedSileroVAD) and scorer.sample_rate != vad_rate:
            scorer = BatchedSileroVAD.shared(vad_rate)
        self.vad = VADStream(
            vad_rate, settings.vad, input_rate=sample_rate, scorer=scorer, on_event=self._on_vad
        )
        self._audio = audio
        self.stt: STTStream = stt.stream(language=settings.language)
        self._rate = sample_rate
        self._stt_rate = stt.sample_rate
        self._to_stt: StreamResampler | None = None
        v = settings.vad
        # Pre-roll for the STT, and enough history to find the true end of speech.
        keep_ms = _VAD_LAG_MS + max(
            v.prefix_padding_ms + v.min_speech_ms, v.min_silence_ms + _END_SEARCH_MS
        )
        keep = int((keep_ms + 100) / 20) + 2
        # The ring holds each frame's samples and start time, not the frame: ~90 frame
        # objects per speaker living ~2 s each would be most of what the garbage collector
        # walks in a busy worker (arrays and floats are not tracked); frames are rebuilt
        # at speech edges only.
        self._ring_pcm: deque[PCM16] = deque(maxlen=keep)
        self._ring_ms: deque[float] = deque(maxlen=keep)
        self.in_segment = False
        # Sample-accurate speech onset (VAD window start refined by level), for barge-in.
        self.speech_start_ms = 0.0
        self.frames = 0
        self.last_frame_end_ms = 0.0
        self.ended = False  # the participant's audio stream is over
        self._caught_up: tuple[float, asyncio.Event] | None = None
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._reporting(self._audio_loop())),
            loop.create_task(self._reporting(self._transcript_loop())),
        ]

    async def _reporting(self, loop: Coroutine[Any, Any, None]) -> None:
        # A loop that dies silently leaves a deaf agent on the line until the caller gives
        # up: the sink is told, and the call ends with the failure on its record.
        try:
            await loop
        except Exception as exc:
            self.sink.on_listener_failed(self, exc)

    async def _audio_loop(self) -> None:
        sink = self.sink
        vad = self.vad
        ring_pcm, ring_ms = self._ring_pcm, self._ring_ms
        async for frame in self._audio:
            self.frames += 1
            self.last_frame_end_ms = frame.end_ms
            sink.observe_frame(frame)
            ring_pcm.append(frame.samples)
            ring_ms.append(frame.timestamp_ms)
            if self.in_segment:
                self._stt_push(frame)
            vad.push_frame(frame)
            if vad.speaking:
                # Barge-in is checked per 20 ms frame, not per 32 ms VAD window.
                sink.on_speaking(self, frame.end_ms - self.speech_start_ms)
        self.ended = True
        if self._caught_up is not None:
            self._caught_up[1].set()
        sink.on_listener_ended(self)

    def caught_up(self, media_ms: float) -> bool:
        """True when the VAD has judged what audio arriving on time would have given it by
        media time `media_ms` (up to one frame and one window before it)."""
        vad = self.vad
        heard = vad.heard_ms + vad.input_lag_ms  # the input a decimated window needed
        return self.ended or heard >= media_ms - _FRAME_MS - vad.window_ms

    async def wait_caught_up(self, media_ms: float, clock: Clock) -> None:
        """Wait until `caught_up(media_ms)`: decisions about what the caller did by then
        (kept silent long enough to end the turn) must not run ahead of their audio.

        The session's clock runs on while audio is late: after a stalled event loop (a long
        garbage collection, a loaded host) or a network burst, frames arrive behind time,
        all at once. A stream that stops sending is not waited for (see `_QUIET_CHECKS`).
        """
        quiet = 0
        while not self.caught_up(media_ms) and quiet < _QUIET_CHECKS:
            frames = self.frames
            event = asyncio.Event()
            self._caught_up = (media_ms, event)
            self.vad.on_window = self._window_judged  # only while someone waits
            try:
                await wait_event(clock, event, _CHECK_S)
            finally:
                self._caught_up = None
                self.vad.on_window = None
            quiet = 0 if self.frames != frames else quiet + 1

    def _window_judged(self, _vad: VADStream, _end_ms: float) -> None:
        if self._caught_up is not None and self.caught_up(self._caught_up[0]):
            self._caught_up[1].set()

    def _stt_push(self, frame: AudioFrame) -> None:
        if self._rate == self._stt_rate:
            self.stt.push_frame(frame)
            return
        if self._to_stt is None:
            # A fresh resampler per speech segment: its timestamps assume gap-free input.
            self._to_stt = StreamResampler(self._rate, self._stt_rate)
        for f in self._to_stt.push(frame):
            self.stt.push_frame(f)

    def _on_vad(self, ev: VADEvent) -> None:
        ev = replace(ev, timestamp_ms=self._refine(ev))
        if ev.kind is VADEventKind.SPEECH_START:
            self.speech_start_ms = ev.timestamp_ms
            if not self.in_segment:
                self.in_segment = True
                # Pre-roll: the words' onsets before the VAD fired.
                for f in self._ring_since(ev.padded_start_ms):
                    self._stt_push(f)
            self.sink.on_speech_start(self, ev)
        else:
            self.in_segment = False
            if self._to_stt is not None:
                for f in self._to_stt.flush():
                    self.stt.push_frame(f)
                self._to_stt = None
            self.stt.end_of_speech()
            self.sink.on_speech_end(self, ev)

    def _refine(self, ev: VADEvent) -> float:
        """Move a VAD edge (32 ms window resolution) to the first/last loud sample near it."""
        start = ev.kind is VADEventKind.SPEECH_START
        lo = ev.timestamp_ms - (64.0 if start else _END_SEARCH_MS)
        hi = ev.timestamp_ms + 32.0
        frames = [f for f in self._ring_since(lo) if f.timestamp_ms < hi]
        if not frames:
            return ev.timestamp_ms
        # Stay above the line noise: 4x the quietest frame's level, at least -40 dBFS.
        floor = min(float(np.abs(f.samples).mean()) for f in frames)
        level = max(_LEVEL, 4.0 * floor)
        best: float | None = None
        for f in frames:
            loud = np.flatnonzero(np.abs(f.samples) > level)
            if not len(loud):
                continue
            ms_per = 1000.0 / f.sample_rate
            if start:
                t = f.timestamp_ms + loud[0] * ms_per
                if t >= lo and (best is None or t < best):
                    best = t
                    break  # frames are in time order: the first loud one wins
            else:
                t = f.timestamp_ms + (loud[-1] + 1) * ms_per
                if t <= hi:
                    best = t
        return ev.timestamp_ms if best is None else float(best)

    def _ring_since(self, ms: float) -> list[AudioFrame]:
        """The kept frames that end after media time `ms`, oldest first (every frame in
        the ring is at the listener's (input) rate, whatever rate the VAD's model runs at)."""
        rate = self._rate
        return [AudioFrame(pcm, rate, ts)
                for pcm, ts in zip(self._ring_pcm, self._ring_ms, strict=True)
                if ts + 1000.0 * len(pcm) / rate > ms]

    async def _transcript_loop(self) -> None:
        async for t in self.stt:
            if t.kind is TranscriptKind.END_OF_UTTERANCE:
                continue
            self.sink.on_transcript(self, t)

    async def aclose(self) -> None:
        for t in self._tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await self.stt.aclose()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.vad.close()
