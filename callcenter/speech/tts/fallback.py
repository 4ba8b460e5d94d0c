"""Fallback TTS: switch provider on error or stall, and resume mid-sentence without repeats.

The stream keeps the whole text it was given. Every audio chunk it passes on carries word
alignment, so it knows how far into that text the caller has been sent audio. If the
provider drops (or stalls) mid-utterance, the next provider gets only the text after the
last fully produced word; its audio is shifted in time (and resampled if its rate differs)
so the voice session sees one continuous utterance.

Warm standby: when the active provider has produced nothing after `warm_after` of the
stall timeout (default half), the next provider's stream is opened (connection and
handshake only, no text, so nothing is billed). If the stall is confirmed, the fallback
starts from a ready connection: the switch costs the stall timeout plus one first-audio
time, not a connect on top.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import numpy as np

from callcenter.audio.frame import AudioFrame
from callcenter.audio.resample import StreamResampler
from callcenter.speech.errors import SpeechError
from callcenter.speech.fallback import ProviderPool, as_speech_error, close_quietly, stall_error
from callcenter.speech.health import Probe
from callcenter.speech.tts.base import TTS, TTSAudio, TTSStream
from callcenter.speech.types import Word
from callcenter.speech.usage import TTSMetrics


class FallbackTTS(TTS):
    """TTS over an ordered provider list. `voice` goes to the first provider only (voice ids
    are provider-specific); the others use their default voice."""

    name = "fallback-tts"

    def __init__(
        self,
        providers: Sequence[TTS],
        *,
        stall_timeout: float = 1.0,
        warm_standby: bool = True,
        warm_after: float = 0.5,
        probes: Sequence[Probe | None] | None = None,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.warm_standby = warm_standby
        self.warm_after = warm_after  # fraction of the stall timeout before warming up
        self.pool: ProviderPool[TTS] = ProviderPool(
            "tts", providers, probes=probes, base_backoff=base_backoff, max_backoff=max_backoff
        )
        self.stall_timeout = stall_timeout
        self.sample_rate = providers[0].sample_rate

    def stream(self, *, voice: str | None = None) -> FallbackTTSStream:
        return FallbackTTSStream(self, voice)

    async def aclose(self) -> None:
        await self.pool.aclose()


class FallbackTTSStream(TTSStream):
    """One utterance; `metrics.ttfb_s` is what the caller waited, whichever provider spoke."""

    def __init__(self, owner: FallbackTTS, voice: str | None) -> None:
        self._owner = owner
        self._voice = voice
        self._pieces: list[str] = []
        self._flushed = False
        self._ended = False
        self._asked_at: float | None = None  # when audio became due (first flush/end_input)
        self._changed = asyncio.Event()
        self._cursor = 0  # chars of the full text already produced as audio
        self._emitted_ms = 0.0
        self.metrics = TTSMetrics(provider=owner.name, voice=voice or "")
        self.providers_used: list[str] = []
        self._inner: TTSStream | None = None
        self._index = -1
        # Per active provider (reset by _open):
        self._resampler: StreamResampler | None = None
        self._offset_ms = 0.0
        self._got_audio = False
        self._last_chunk_at = 0.0
        self._switch_at = 0.0
        self._standby: tuple[int, TTSStream] | None = None
        self._warmed = False  # a standby was opened for the active provider's stall window
        self._open(owner.pool.candidates())

    # -- input: recorded, then forwarded to the active provider
    def push_text(self, text: str) -> None:
        if self._ended:
            raise RuntimeError("push_text() after end_input(): open a new TTS stream")
        self._pieces.append(text)
        self.metrics.characters += len(text)
        if self._inner is not None:
            self._inner.push_text(text)

    def flush(self) -> None:
        self._flushed = True
        self._asked_at = self._asked_at or time.monotonic()
        if self._inner is not None:
            self._inner.flush()
        self._changed.set()

    def end_input(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._asked_at = self._asked_at or time.monotonic()
        if self._inner is not None:
            self._inner.end_input()
        self._changed.set()

    async def aclose(self) -> None:
        self._drop_standby()
        if self._inner is not None:
            await self._inner.aclose()
            self._inner = None

    def _drop_standby(self) -> None:
        if self._standby is not None:
            close_quietly(self._standby[1])
            self._standby = None

    def _warm_up(self, after: int) -> None:
        """Open the next provider's stream ahead of need (no text is sent)."""
        self._warmed = True
        pool = self._owner.pool
        for i in pool.candidates(after=after):
            try:
                self._standby = (i, pool.providers[i].stream(voice=None))
            except Exception:
                continue
            return

    # -- provider switching
    def _open(self, candidates: list[int]) -> bool:
        pool = self._owner.pool
        for i in candidates:
            if self._standby is not None and self._standby[0] == i:
                inner, self._standby = self._standby[1], None
            else:
                try:
                    inner = pool.providers[i].stream(voice=self._voice if i == 0 else None)
                except Exception as exc:  # a provider that cannot even open a stream
                    pool.health[i].mark_failed(as_speech_error(pool.health[i].name, exc))
                    continue
            self._drop_standby()
            self._warmed = False
            self._inner, self._index = inner, i
            self.providers_used.append(pool.health[i].name)
            rate = pool.providers[i].sample_rate
            self._resampler = (StreamResampler(rate, self._owner.sample_rate)
                               if rate != self._owner.sample_rate else None)
            self._offset_ms = self._emitted_ms
            self._got_audio = False
            self._last_chunk_at = time.monotonic()
            rest = self.remaining_text()
            if rest:
                inner.push_text(rest)
            if self._ended:
                inner.end_input()
            elif self._flushed:
                inner.flush()
            self._switch_at = time.monotonic()  # each provider gets a full stall window
            return True
        self._drop_standby()
        self._inner = None
        return False

    def remaining_text(self) -> str:
        """The text not yet produced as audio."""
        return "".join(self._pieces)[self._cursor:].lstrip()

    def _advance(self, words: list[Word]) -> None:
        """Move the cursor past each produced word (skipping what the provider normalized)."""
        full = "".join(self._pieces)
        for w in words:
            token = w.text.strip()
            if not token:
                continue
            at = full.lower().find(token.lower(), self._cursor)
            # Only accept a match close by: a far-away match would skip unspoken text.
            if at != -1 and not full[self._cursor:at].strip():
                self._cursor = at + len(token)

    def _warm_deadline(self) -> float | None:
        if (not self._owner.warm_standby or self._warmed or self._got_audio
                or self._asked_at is None):
            return None
        owner = self._owner
        return max(self._asked_at, self._switch_at) + owner.stall_timeout * owner.warm_after

    def _deadline(self) -> float | None:
        stall = self._owner.stall_timeout
        if self._asked_at is None:
            return None
        if not self._got_audio:
            return max(self._asked_at, self._switch_at) + stall
        if self._ended:  # all text is in; the provider must keep producing
            return self._last_chunk_at + stall
        return None

    async def __aiter__(self) -> AsyncIterator[TTSAudio]:
        errors: list[str] = []
        pool = self._owner.pool
        while self._inner is not None:
            inner, i = self._inner, self._index
            it = inner.__aiter__()
            nxt: asyncio.Task[TTSAudio] = asyncio.ensure_future(anext(it))
            failure: SpeechError | None = None
            try:
                while failure is None:
                    deadline, warm_at = self._deadline(), self._warm_deadline()
                    wake = min((t for t in (deadline, warm_at) if t is not None), default=None)
                    timeout = None if wake is None else max(0.0, wake - time.monotonic())
                    changed = asyncio.ensure_future(self._changed.wait())
                    done, _ = await asyncio.wait({nxt, changed}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    changed.cancel()
                    self._changed.clear()
                    if nxt in done:
                        try:
                            chunk = nxt.result()
                        except StopAsyncIteration:
                            pool.health[i].mark_ok()
                            self._drop_standby()
                            return
                        except Exception as exc:
                            failure = as_speech_error(pool.health[i].name, exc)
                            break
                        yield self._emit(chunk)
                        nxt = asyncio.ensure_future(anext(it))
                    elif not done and (deadline is None or time.monotonic() < deadline):
                        self._warm_up(after=i)
                    elif not done:
                        what = "first audio" if not self._got_audio else "audio"
                        failure = stall_error(pool.health[i].name, what, self._owner.stall_timeout)
            finally:
                nxt.cancel()
            pool.health[i].mark_failed(failure)
            errors.append(str(failure))
            close_quietly(inner)
            if not self._open(pool.candidates(after=i)):
                raise pool.all_failed(errors)
        raise pool.all_failed(errors)

    def _emit(self, chunk: TTSAudio) -> TTSAudio:
        now = time.monotonic()
        if not self._got_audio:
            self._got_audio = True
            if self.metrics.ttfb_s is None and self._asked_at is not None:
                self.metrics.ttfb_s = now - self._asked_at
            self._owner.pool.health[self._index].mark_ok()
            self._drop_standby()
        self._last_chunk_at = now
        frame = chunk.frame
        if self._resampler is not None:
            parts = self._resampler.push(frame)
            if chunk.is_final:
                parts += self._resampler.flush()
            samples = [p.samples for p in parts]
            frame = AudioFrame(np.concatenate(samples) if samples else np.zeros(0, np.int16),
                               self._owner.sample_rate)
        frame = AudioFrame(frame.samples, frame.sample_rate, self._emitted_ms)
        words = [Word(w.text, w.start_ms + self._offset_ms, w.end_ms + self._offset_ms,
                      w.confidence) for w in chunk.words]
        self._emitted_ms += frame.duration_ms
        self.metrics.audio_s = self._emitted_ms / 1000.0
        self._advance(words)
        return TTSAudio(frame=frame, words=words, is_final=chunk.is_final)
