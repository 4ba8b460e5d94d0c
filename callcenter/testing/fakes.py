"""Scripted STT / LLM / TTS for tests and benchmarks, with configurable latencies.

They stand in for speech providers, never for the media path: a scripted caller still sends
real speech audio through the room, the real VAD still decides when the caller speaks, and
only the *words* come from a `SpeechBoard` the caller writes to ("I said X from t1 to t2").
`FakeSTT` answers with the words whose audio overlaps what it was fed, so endpointing and
barge-in are exercised exactly as with a real recognizer. All waits use the shared `Clock`,
so a test on a `VirtualClock` runs much faster than real time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.clock import Clock, RealClock
from callcenter.speech import (
    LLM,
    STT,
    TTS,
    ChatMessage,
    LLMChunk,
    LLMOptions,
    STTStream,
    ToolSpec,
    Transcript,
    TranscriptKind,
    TTSAudio,
    TTSStream,
    Word,
)


@dataclass(slots=True)
class SpokenUtterance:
    """What a scripted speaker said, and where its audio lies on the room's media time line."""

    identity: str
    text: str
    start_ms: float
    end_ms: float
    # Loudness per 20 ms slot of the room's time line (slot = media ms // 20), if known:
    # lets FakeSTT tell overlapping speakers apart by which audio its stream carried.
    envelope: dict[int, float] = field(default_factory=dict)
    # The words, made once: a stream asks for them on every frame of a caller's speech.
    _words: tuple[Word, ...] | None = field(default=None, repr=False, compare=False)

    def words(self) -> tuple[Word, ...]:
        """Words spread evenly over the utterance (good enough for interim results)."""
        if self._words is None:
            toks = self.text.split()
            step = (self.end_ms - self.start_ms) / len(toks) if toks else 0.0
            self._words = tuple(
                Word(t, self.start_ms + i * step, self.start_ms + (i + 1) * step)
                for i, t in enumerate(toks)
            )
        return self._words


@dataclass
class SpeechBoard:
    """The out-of-band channel from scripted speakers to `FakeSTT` (one per room)."""

    utterances: list[SpokenUtterance] = field(default_factory=list)

    def said(
        self,
        identity: str,
        text: str,
        start_ms: float,
        end_ms: float,
        *,
        audio: AudioFrame | None = None,
    ) -> None:
        """Record a line; `audio` (stamped with its room media time) helps with overlaps."""
        env = _envelope(audio) if audio is not None else {}
        self.utterances.append(SpokenUtterance(identity, text, start_ms, end_ms, env))

    def overlapping(self, start_ms: float, end_ms: float) -> list[SpokenUtterance]:
        return [u for u in self.utterances if u.start_ms < end_ms and u.end_ms > start_ms]


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float32))))) if len(samples) else 0.0


def _envelope(frame: AudioFrame) -> dict[int, float]:
    # One RMS per 20 ms piece (the last piece may be short), computed in one pass.
    n = frame.sample_rate // 50
    base = round(frame.timestamp_ms / 20.0)
    x = frame.samples.astype(np.float32)
    full = len(x) // n
    rms = np.sqrt(np.mean(np.square(x[: full * n]).reshape(full, n), axis=1)).tolist()
    if len(x) > full * n:
        rms.append(_rms(frame.samples[full * n :]))
    return {base + i: float(v) for i, v in enumerate(rms)}


def _correlation(a: dict[int, float], b: dict[int, float]) -> float:
    keys = sorted(a.keys() & b.keys())
    if len(keys) < 3:
        return 0.0
    x = np.array([a[k] for k in keys])
    y = np.array([b[k] for k in keys])
    # Pearson's r by hand (np.corrcoef costs ~20x more for the same number).
    x -= x.mean()
    y -= y.mean()
    den = float(np.sqrt(np.dot(x, x) * np.dot(y, y)))
    return float(np.dot(x, y)) / den if den > 0 else 0.0


_KEEP_SLOTS = 1500  # 30 s of 20 ms frames


class FakeSTTStream(STTStream):
    def __init__(self, stt: FakeSTT) -> None:
        self._stt = stt
        self._out: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._seg_start: float | None = None
        self._seg_end = 0.0
        self._interim_words = 0
        self._finalized_until = -1.0
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Loudness per 20 ms slot of what this stream carried (the last 30 s), measured
        # once per frame and only when speakers overlap: frames wait in `_unmeasured` as
        # (slot, samples) pairs (no frame objects: the collector skips such tuples).
        self._unmeasured: deque[tuple[int, np.ndarray]] = deque(maxlen=_KEEP_SLOTS)
        self._env: dict[int, float] = {}

    def push_frame(self, frame: AudioFrame) -> None:
        if self._closed or frame.end_ms <= self._finalized_until:
            return
        if self._seg_start is None:
            self._seg_start = frame.timestamp_ms
        self._seg_end = frame.end_ms
        # Loudness is computed only if speakers overlap.
        self._unmeasured.append((round(frame.timestamp_ms / 20.0), frame.samples))
        if self._stt.interim:
            words = self._heard_words(self._seg_start, self._seg_end)
            n = sum(1 for w in words if w.end_ms <= self._seg_end)
            if n > self._interim_words:
                self._interim_words = n
                text = " ".join(w.text for w in words[:n])
                self._out.put_nowait(
                    Transcript(TranscriptKind.INTERIM, text, self._seg_start, self._seg_end,
                               words[:n], produced_at=self._stt.clock.now())
                )

    def _heard_words(self, start: float, end: float) -> list[Word]:
        words: list[Word] = []
        found = self._stt.board.overlapping(start, end)
        if len({u.identity for u in found}) > 1 and all(u.envelope for u in found):
            # Several speakers at once: keep the one whose loudness this stream followed.
            env = self._loudness()
            best = max(found, key=lambda u: _correlation(u.envelope, env)).identity
            found = [u for u in found if u.identity == best]
        for u in found:
            words.extend(w for w in u.words() if w.end_ms > self._finalized_until)
        return words

    def _loudness(self) -> dict[int, float]:
        # Measuring every kept frame on every frame pushed during an overlap was O(kept
        # frames) per frame: it made an escalated bench call cost several plain ones.
        env = self._env
        while self._unmeasured:
            slot, samples = self._unmeasured.popleft()
            env.pop(slot, None)  # a later frame in the same slot wins, and counts as newest
            env[slot] = _rms(samples)
        while len(env) > _KEEP_SLOTS:
            del env[next(iter(env))]  # oldest first (dicts keep insertion order)
        return env

    def end_of_speech(self) -> None:
        if self._seg_start is None:
            return
        start, end = self._seg_start, self._seg_end
        self._seg_start = None
        self._interim_words = 0
        task = asyncio.get_running_loop().create_task(self._finalize(start, end))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finalize(self, start: float, end: float) -> None:
        await self._stt.clock.sleep(self._stt.final_latency)
        # Words that were fully spoken inside the audio we got (a word cut in half by a
        # barge-in that stopped early still counts once most of it was heard).
        words = [
            w for w in self._heard_words(start, end)
            if (min(w.end_ms, end) - max(w.start_ms, start)) >= 0.5 * (w.end_ms - w.start_ms)
        ]
        self._finalized_until = max(self._finalized_until, end)
        text = " ".join(w.text for w in words)
        self._stt.finals += 1
        self._out.put_nowait(
            Transcript(TranscriptKind.FINAL, text, start, end, words,
                       confidence=self._stt.confidence, produced_at=self._stt.clock.now())
        )

    async def __aiter__(self) -> AsyncIterator[Transcript]:  # type: ignore[override]
        while True:
            t = await self._out.get()
            if t is None:
                return
            yield t

    async def aclose(self) -> None:
        self._closed = True
        for t in list(self._tasks):
            t.cancel()
        self._out.put_nowait(None)


class FakeSTT(STT):
    """Transcribes scripted speech from a `SpeechBoard`; `final_latency` in seconds."""

    name = "fake-stt"

    def __init__(
        self,
        board: SpeechBoard,
        *,
        clock: Clock | None = None,
        sample_rate: int = 16000,
        final_latency: float = 0.0,
        interim: bool = True,
    ) -> None:
        self.board = board
        self.clock = clock or RealClock()
        self.sample_rate = sample_rate
        self.final_latency = final_latency
        self.interim = interim
        self.finals = 0
        # Every FINAL's confidence (a test sets it to have a turn heard unsurely).
        self.confidence = 1.0

    def stream(self, *, language: str = "en", keywords: Sequence[str] = ()) -> FakeSTTStream:
        return FakeSTTStream(self)


Responder = Callable[[Sequence[ChatMessage]], str]


class FakeLLM(LLM):
    """Streams a scripted reply word by word after `ttft` seconds, `token_interval` apart."""

    name = "fake-llm"

    def __init__(
        self,
        reply: str | Sequence[str] | Responder = "Okay.",
        *,
        clock: Clock | None = None,
        ttft: float = 0.0,
        token_interval: float = 0.0,
    ) -> None:
        self._reply = reply
        self._turn = 0
        self.clock = clock or RealClock()
        self.ttft = ttft
        self.token_interval = token_interval
        self.requests: list[list[ChatMessage]] = []
        self.cancelled = 0

    def _text(self, messages: Sequence[ChatMessage]) -> str:
        r = self._reply
        if isinstance(r, str):
            return r
        if callable(r):
            return r(messages)
        text = r[min(self._turn, len(r) - 1)]
        self._turn += 1
        return text

    async def chat(  # type: ignore[override]
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        options: LLMOptions | None = None,
    ) -> AsyncIterator[LLMChunk]:
        self.requests.append(list(messages))
        text = self._text(messages)
        try:
            await self.clock.sleep(self.ttft)
            for i, tok in enumerate(text.split(" ")):
                if i and self.token_interval:
                    await self.clock.sleep(self.token_interval)
                yield LLMChunk(text=tok if i == 0 else " " + tok)
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise


class FakeTTSStream(TTSStream):
    def __init__(self, tts: FakeTTS) -> None:
        self._tts = tts
        self._pending = ""
        self._segments: asyncio.Queue[str | None] = asyncio.Queue()
        self._t_ms = 0.0  # utterance-relative time of the next word
        self._first = True
        self._closed = False

    def push_text(self, text: str) -> None:
        self._pending += text

    def flush(self) -> None:
        if self._pending.strip():
            self._segments.put_nowait(self._pending)
        self._pending = ""

    def end_input(self) -> None:
        self.flush()
        self._segments.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[TTSAudio]:  # type: ignore[override]
        tts = self._tts
        while not self._closed:
            seg = await self._segments.get()
            if seg is None:
                return
            await tts.clock.sleep(tts.ttfb if self._first else tts.segment_latency)
            self._first = False
            tts.segments += 1
            words = seg.split()
            for j, w in enumerate(words):
                dur = tts.ms_per_char * len(w) + tts.word_gap_ms
                n = round(tts.sample_rate * dur / 1000.0)
                audio = tts.tone(n, int(self._t_ms * tts.sample_rate / 1000.0))
                word = Word(w, self._t_ms, self._t_ms + tts.ms_per_char * len(w))
                self._t_ms += dur
                yield TTSAudio(AudioFrame(audio, tts.sample_rate), [word],
                               is_final=j == len(words) - 1)

    async def aclose(self) -> None:
        self._closed = True
        self._segments.put_nowait(None)


class FakeTTS(TTS):
    """Makes a tone whose length follows the text (`ms_per_char` per letter) with word times."""

    name = "fake-tts"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        sample_rate: int = 16000,
        ttfb: float = 0.0,
        segment_latency: float = 0.0,
        ms_per_char: float = 60.0,
        word_gap_ms: float = 60.0,
    ) -> None:
        self.clock = clock or RealClock()
        self.sample_rate = sample_rate
        self.ttfb = ttfb
        self.segment_latency = segment_latency
        self.ms_per_char = ms_per_char
        self.word_gap_ms = word_gap_ms
        self.segments = 0

    def tone(self, n: int, offset: int) -> np.ndarray:
        t = np.arange(offset, offset + n, dtype=np.float32) / self.sample_rate
        return (3000.0 * np.sin(2 * np.pi * 440.0 * t)).astype(np.int16)

    def stream(self, *, voice: str | None = None) -> FakeTTSStream:
        return FakeTTSStream(self)


__all__ = [
    "FakeLLM",
    "FakeSTT",
    "FakeTTS",
    "SpeechBoard",
    "SpokenUtterance",
]
