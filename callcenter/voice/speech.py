"""One agent utterance: text (or streamed LLM text) -> TTS clause by clause -> room output.

`SpeechHandle` keeps the synthesized audio and the TTS word alignment, so it can tell at
any moment which words the caller has actually heard (from the output's `played_ms`), pause
on a barge-in (clearing the room's buffer), resume from the word it was cut in when the
barge-in was a false alarm, or stop for good and report the heard text.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.rooms.base import AudioOutput
from callcenter.rooms.clock import Clock
from callcenter.speech import TTS, Word
from callcenter.speech.tts.clauses import ClauseSplitter
from callcenter.voice.events import TurnMetrics

_ids = itertools.count(1)
log = logging.getLogger(__name__)
TextSource = str | AsyncIterable[str]


class SpeechHandle:
    """An agent utterance being spoken. Await `wait()` for it to finish or be interrupted."""

    def __init__(self, source: TextSource, *, interruptible: bool = True) -> None:
        self.id = next(_ids)
        self.source = source
        self.interruptible = interruptible
        self.planned_text = ""
        self.interrupted = False
        self.heard_text = ""
        self.start_ms: float | None = None  # media time of the first audio out
        self.end_ms: float | None = None
        self.first_audio_at: float | None = None  # clock time (s) of the first captured audio
        self.first_text_at: float | None = None
        self.queued_ms: float | None = None  # media time of `say()` (the session sets it)
        self.run_ms: float | None = None  # media time its turn to play came
        self.tts_ttfb_ms: float | None = None
        # A streamed source (an LLM): time from the start of speaking to its first text.
        self.llm_ttft_ms: float | None = None
        # The caller turn this speech answers (the session fills in e2e latency).
        self.turn_metrics: TurnMetrics | None = None
        self.paused = False
        # Set when the text source or the TTS failed; what could be spoken was spoken.
        self.error: Exception | None = None
        # Called once when the utterance ends (finished or interrupted), before `wait()`
        # returns; the speaker uses it to record the utterance.
        self.on_done: Callable[[SpeechHandle], None] | None = None
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._resume = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._buf = np.zeros(0, dtype=np.int16)
        self._total = 0
        self._rate = 16000
        self._words: list[Word] = []
        self._tts_done = False
        self._new_audio = asyncio.Event()
        self._cursor = 0
        self._seg_axis_ms: float | None = None
        self._seg_off_ms = 0.0
        self._sent_ms = 0.0
        self._output: AudioOutput | None = None

    # ------------------------------------------------------------------ public

    def done(self) -> bool:
        return self._done.done()

    async def wait(self) -> None:
        await asyncio.shield(self._done)

    @property
    def started(self) -> bool:
        """Some audio has gone to the room."""
        return self.first_audio_at is not None

    def position_ms(self) -> float:
        """How far into the utterance's audio the caller has heard."""
        out = self._output
        if out is None or self._seg_axis_ms is None:
            return self._seg_off_ms
        pos = self._seg_off_ms + (out.played_ms - self._seg_axis_ms)
        return max(self._seg_off_ms, min(pos, self._sent_ms))

    def heard_words(self, pos_ms: float | None = None) -> list[Word]:
        pos = self.position_ms() if pos_ms is None else pos_ms
        # A word counts as heard once more than half of it was played.
        return [w for w in self._words if (w.start_ms + w.end_ms) / 2 <= pos]

    # ------------------------------------------------------------------ control (session)

    def pause(self, media_now: float) -> None:
        """Barge-in: stop audio at once (clear the room buffer) but keep the rest."""
        if self.paused or self.done():
            return
        pos = self.position_ms()
        self.paused = True
        self._resume.clear()
        if self._output is not None:
            self._output.clear()
        self._seg_off_ms, self._seg_axis_ms, self._sent_ms = pos, None, pos
        self.end_ms = media_now

    def resume(self) -> None:
        """False interruption: play on from the start of the word that was cut."""
        if not self.paused or self.done():
            return
        pos = self._seg_off_ms
        for w in self._words:
            if w.start_ms <= pos < w.end_ms:
                pos = w.start_ms
                break
        self._seg_off_ms = self._sent_ms = pos
        self._cursor = min(self._total, round(pos * self._rate / 1000.0))
        self.paused = False
        self._resume.set()

    def interrupt(self, media_now: float) -> None:
        """Stop for good; `heard_text` keeps what the caller actually heard."""
        if self.done():
            return
        if not self.paused:
            self.pause(media_now)
        self.interrupted = True
        self.heard_text = " ".join(w.text for w in self.heard_words(self._seg_off_ms))
        if self._task is not None:
            self._task.cancel()
        self._finish()

    def _finish(self) -> None:
        if self._done.done():
            return
        on_done, self.on_done = self.on_done, None
        if on_done is not None:
            on_done(self)  # record it before anyone awaiting `wait()` looks
        self._done.set_result(None)

    # ------------------------------------------------------------------ running

    def start(
        self,
        tts: TTS,
        output: AudioOutput,
        clock: Clock,
        media_now: Callable[[], float],
        *,
        chunk_ms: float = 40.0,
    ) -> asyncio.Task[None]:
        self._output = output
        self.run_ms = media_now()
        self._task = asyncio.get_running_loop().create_task(
            self._run(tts, output, clock, media_now, chunk_ms)
        )
        return self._task

    async def _run(
        self, tts: TTS, output: AudioOutput, clock: Clock, media_now: Callable[[], float],
        chunk_ms: float,
    ) -> None:
        stream = tts.stream()
        self._rate = tts.sample_rate
        feed = asyncio.get_running_loop().create_task(self._feed(stream, clock))
        read = asyncio.get_running_loop().create_task(self._read(stream, clock))
        try:
            await self._play(output, clock, media_now, chunk_ms)
            if not self.interrupted:
                # After a TTS failure only the audio that was made got played: the record
                # must say what the caller heard, not what was planned.
                played = 1000.0 * self._total / self._rate
                self.heard_text = (
                    self.planned_text.strip() if self.error is None
                    else " ".join(w.text for w in self.heard_words(played))
                )
                self.end_ms = media_now()
        finally:
            for t in (feed, read):
                t.cancel()
            with contextlib.suppress(Exception):
                await stream.aclose()
            await asyncio.gather(feed, read, return_exceptions=True)
            self._finish()

    async def _feed(self, stream: Any, clock: Clock) -> None:
        splitter = ClauseSplitter()
        source = self.source
        if isinstance(source, str):
            self.first_text_at = clock.now()
            self.planned_text = source
            stream.push_text(source)
            stream.end_input()
            return
        it: AsyncIterator[str] = source.__aiter__()
        t0 = clock.now()
        try:
            async for delta in it:
                if delta and self.llm_ttft_ms is None:
                    self.llm_ttft_ms = 1000.0 * (clock.now() - t0)
                self.planned_text += delta
                for clause in splitter.push(delta):
                    if self.first_text_at is None:
                        self.first_text_at = clock.now()
                    stream.push_text(clause + " ")
                    stream.flush()
            for clause in splitter.flush():
                if self.first_text_at is None:
                    self.first_text_at = clock.now()
                stream.push_text(clause)
            stream.end_input()
        except Exception as exc:
            # The text source (LLM) failed mid-reply: speak what already arrived, end
            # cleanly, and let the caller of `say` see the error (`handle.error`).
            log.warning("agent speech source failed: %s", exc)
            self.error = exc
            for clause in splitter.flush():
                stream.push_text(clause)
            stream.end_input()
        finally:
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _read(self, stream: Any, clock: Clock) -> None:
        try:
            async for chunk in stream:
                if self.tts_ttfb_ms is None and self.first_text_at is not None:
                    self.tts_ttfb_ms = 1000.0 * (clock.now() - self.first_text_at)
                self._append(chunk.frame, chunk.words)
        except Exception as exc:
            log.warning("TTS failed during agent speech: %s", exc)
            self.error = exc
        finally:
            self._tts_done = True
            self._new_audio.set()

    def _append(self, frame: AudioFrame, words: list[Word]) -> None:
        if frame.sample_rate != self._rate:
            self._rate = frame.sample_rate
        n = len(frame.samples)
        if self._total + n > len(self._buf):
            grown = np.zeros(max(2 * len(self._buf), self._total + n, 16000), dtype=np.int16)
            grown[: self._total] = self._buf[: self._total]
            self._buf = grown
        self._buf[self._total : self._total + n] = frame.samples
        self._total += n
        self._words.extend(words)
        self._new_audio.set()

    def _slice(self, n: int) -> PCM16:
        start = self._cursor
        self._cursor = min(self._total, start + n)
        return self._buf[start : self._cursor]

    async def _play(
        self, output: AudioOutput, clock: Clock, media_now: Callable[[], float], chunk_ms: float
    ) -> None:
        while True:
            if self.paused:
                await self._resume.wait()
                continue
            if self._cursor < self._total:
                samples = self._slice(round(self._rate * chunk_ms / 1000.0))
                if self._seg_axis_ms is None:
                    self._seg_axis_ms = output.played_ms + output.queued_ms
                    if self.first_audio_at is None:
                        self.first_audio_at = clock.now() + output.queued_ms / 1000.0
                        self.start_ms = media_now() + output.queued_ms
                self._sent_ms = 1000.0 * self._cursor / self._rate
                await output.capture_frame(AudioFrame(samples, self._rate))
                continue
            if self._tts_done:
                await output.wait_for_playout()
                if not self.paused:
                    return
                continue
            self._new_audio.clear()
            await self._new_audio.wait()
