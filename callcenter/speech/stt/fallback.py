"""Fallback STT: switch provider on error or stall without losing what the caller said.

The stream keeps the audio of the utterance in progress (since the last FINAL). If the
provider errors, or gives no FINAL within `stall_timeout` after our VAD said the caller
stopped (`end_of_speech`), the next provider gets that audio replayed and the end of speech
repeated, so the turn still ends with a transcript. At an utterance boundary the stream
moves back to a better provider once it has recovered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

from callcenter.audio.frame import AudioFrame
from callcenter.audio.resample import StreamResampler
from callcenter.speech.errors import SpeechError
from callcenter.speech.fallback import ProviderPool, as_speech_error, close_quietly, stall_error
from callcenter.speech.health import Probe
from callcenter.speech.stt.base import STT, STTStream, Transcript, TranscriptKind
from callcenter.speech.stt.expect import Expectation

_MAX_REPLAY_MS = 30_000.0  # longer utterances are cut by the VAD anyway


class FallbackSTT(STT):
    """STT over an ordered provider list; frames are pushed at the first provider's rate."""

    name = "fallback-stt"

    def __init__(
        self,
        providers: Sequence[STT],
        *,
        stall_timeout: float = 1.0,
        probes: Sequence[Probe | None] | None = None,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.pool: ProviderPool[STT] = ProviderPool(
            "stt", providers, probes=probes, base_backoff=base_backoff, max_backoff=max_backoff
        )
        self.stall_timeout = stall_timeout
        self.sample_rate = providers[0].sample_rate

    def stream(self, *, language: str = "en", keywords: Sequence[str] = ()) -> FallbackSTTStream:
        return FallbackSTTStream(self, language, list(keywords))

    async def aclose(self) -> None:
        await self.pool.aclose()


class FallbackSTTStream(STTStream):
    """One speaker's stream; `providers_used` lists who transcribed, in order."""

    def __init__(self, owner: FallbackSTT, language: str, keywords: list[str]) -> None:
        self._owner = owner
        self._language = language
        self._keywords = keywords
        self._buffer: list[AudioFrame] = []  # audio of the utterance in progress
        self._awaiting_since: float | None = None  # end_of_speech() without a FINAL yet
        self._changed = asyncio.Event()
        self._closed = False
        self.providers_used: list[str] = []
        self._inner: STTStream | None = None
        self._expect: Expectation | None = None
        self._index = -1
        self._resampler: StreamResampler | None = None
        self._open(owner.pool.candidates())

    def push_frame(self, frame: AudioFrame) -> None:
        if frame.sample_rate != self._owner.sample_rate:
            raise ValueError(
                f"fallback STT expects {self._owner.sample_rate} Hz frames, got "
                f"{frame.sample_rate} Hz"
            )
        self._buffer.append(frame)
        while self._buffer and frame.end_ms - self._buffer[0].timestamp_ms > _MAX_REPLAY_MS:
            self._buffer.pop(0)
        self._forward(frame)

    def expect(self, expectation: Expectation | None) -> None:
        self._expect = expectation
        if self._inner is not None:
            self._inner.expect(expectation)

    # A turn's calls go to the stream in use: the offline one (after a cloud outage) keeps
    # turns and can read them whole or hear them again; a cloud stream ignores them.
    def continue_turn(self) -> None:
        if self._inner is not None:
            self._inner.continue_turn()

    def end_turn(self) -> None:
        if self._inner is not None:
            self._inner.end_turn()

    async def decode_turn(self) -> Transcript | None:
        return await self._inner.decode_turn() if self._inner is not None else None

    @property
    def hears_again(self) -> bool:
        return self._inner is not None and self._inner.hears_again

    async def hear_again(self) -> Transcript | None:
        return await self._inner.hear_again() if self._inner is not None else None

    def end_of_speech(self) -> None:
        self._awaiting_since = time.monotonic()
        if self._inner is not None:
            self._inner.end_of_speech()
        self._changed.set()

    async def aclose(self) -> None:
        self._closed = True
        if self._inner is not None:
            await self._inner.aclose()
        self._changed.set()

    def _forward(self, frame: AudioFrame) -> None:
        if self._inner is None:
            return
        if self._resampler is None:
            self._inner.push_frame(frame)
            return
        for part in self._resampler.push(frame):
            self._inner.push_frame(part)

    def _open(self, candidates: list[int]) -> bool:
        pool = self._owner.pool
        for i in candidates:
            try:
                inner = pool.providers[i].stream(language=self._language, keywords=self._keywords)
            except Exception as exc:
                pool.health[i].mark_failed(as_speech_error(pool.health[i].name, exc))
                continue
            self._inner, self._index = inner, i
            inner.expect(self._expect)
            self.providers_used.append(pool.health[i].name)
            rate = pool.providers[i].sample_rate
            self._resampler = (StreamResampler(self._owner.sample_rate, rate)
                               if rate != self._owner.sample_rate else None)
            for frame in self._buffer:  # replay the utterance in progress
                self._forward(frame)
            if self._awaiting_since is not None:
                inner.end_of_speech()
                self._awaiting_since = time.monotonic()  # a full stall window for this one
            return True
        self._inner = None
        return False

    def _after_final(self, event: Transcript) -> None:
        self._buffer = [f for f in self._buffer if f.end_ms > event.end_ms]
        if event.kind is TranscriptKind.FINAL:
            self._awaiting_since = None

    async def __aiter__(self) -> AsyncIterator[Transcript]:
        pool = self._owner.pool
        errors: list[str] = []
        while self._inner is not None:
            inner, i = self._inner, self._index
            it = inner.__aiter__()
            nxt: asyncio.Task[Transcript] = asyncio.ensure_future(anext(it))
            failure: SpeechError | None = None
            try:
                while failure is None:
                    timeout = None
                    if self._awaiting_since is not None:
                        remaining = self._awaiting_since + self._owner.stall_timeout
                        timeout = max(0.0, remaining - time.monotonic())
                    changed = asyncio.ensure_future(self._changed.wait())
                    done, _ = await asyncio.wait({nxt, changed}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    changed.cancel()
                    self._changed.clear()
                    if nxt in done:
                        try:
                            event = nxt.result()
                        except StopAsyncIteration:
                            if self._closed:
                                return
                            failure = SpeechError(pool.health[i].name, "stream ended unasked")
                            break
                        except Exception as exc:
                            failure = as_speech_error(pool.health[i].name, exc)
                            break
                        pool.health[i].mark_ok()
                        if event.kind is not TranscriptKind.INTERIM:
                            self._after_final(event)
                        yield event
                        if event.kind is not TranscriptKind.INTERIM and self._better_recovered():
                            close_quietly(inner)
                            self._open(pool.candidates())
                            break
                        nxt = asyncio.ensure_future(anext(it))
                    elif self._closed:
                        return
                    elif not done:
                        failure = stall_error(pool.health[i].name, "final transcript",
                                              self._owner.stall_timeout)
            finally:
                nxt.cancel()
            if failure is None:
                continue  # moved back to a recovered provider
            pool.health[i].mark_failed(failure)
            errors.append(str(failure))
            close_quietly(inner)
            if not self._open(pool.candidates(after=i)):
                raise pool.all_failed(errors)
        raise pool.all_failed(errors)

    def _better_recovered(self) -> bool:
        return any(self._owner.pool.health[j].healthy for j in range(self._index))
