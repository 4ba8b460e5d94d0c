"""Per-participant turn state and the session's event queue."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from callcenter.rooms.clock import Clock
from callcenter.voice.events import SessionEvent


@dataclass
class TurnState:
    """A participant's turn in progress (one or more VAD speech segments)."""

    start_ms: float | None = None
    speech_end_ms: float = 0.0
    texts: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)  # of the FINALs with words
    segments: int = 0  # speech segments (VAD speech ends) in the turn so far
    # The whole turn read as one utterance by the STT (`STTStream.decode_turn`), when it
    # has several segments and the engine could: the turn's text (see `turn_text`).
    reading: str | None = None
    reading_confidence: float = 1.0
    reading_wait_ms: float | None = None  # how long the commit waited for `reading`
    awaiting_finals: int = 0
    interim_words: int = 0
    eos_at: float = 0.0  # clock time of the last end_of_speech(), for STT latency
    stt_latency_ms: float | None = None
    overlapped: bool = False
    endpoint: asyncio.Task[None] | None = None
    final_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def text(self) -> str:
        """The segments' texts joined: what the endpointing judges while the turn is open."""
        return " ".join(t for t in self.texts if t).strip()


def wants_reading(segments: int) -> bool:
    """A turn that went on past a pause (a number read in groups) is read again as one
    utterance: each group alone is short and without context, and often misheard."""
    return segments > 1


def turn_text(texts: Sequence[str], reading: str | None = None) -> str:
    """A committed turn's text: the one reading of its whole audio when there is one (and
    it heard words), else its segments' texts joined."""
    if reading is not None and reading.strip():
        return reading.strip()
    return " ".join(t.strip() for t in texts if t.strip())


def turn_confidence(confidences: Sequence[float], reading: str | None = None,
                    reading_confidence: float = 1.0) -> float:
    """How sure the recognizer is of a committed turn's text (`turn_text`): the reading's
    confidence when the reading is the text, else the least sure of its segments (one
    doubtful group makes the whole number doubtful)."""
    if reading is not None and reading.strip():
        return reading_confidence
    return min(confidences, default=1.0)


async def wait_event(clock: Clock, event: asyncio.Event, timeout: float) -> bool:
    """Wait for `event` at most `timeout` seconds of `clock` time; True if it was set."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_task(event.wait())
    timer = loop.create_task(clock.sleep(timeout))
    try:
        await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        timer.cancel()
    return event.is_set()


class EventQueue:
    """Session events for the flow runner, bounded (an unread queue must not grow forever).

    A waiting reader is woken by resolving its own future, so an event reaches it on the
    next loop iteration: a turn's reply must not start later than it has to, and on a busy
    worker each iteration costs the time of every other call's frame work.
    """

    def __init__(self, clock: Clock, maxlen: int = 512) -> None:
        self._clock = clock
        self._events: deque[SessionEvent] = deque(maxlen=maxlen)
        self._waiters: list[asyncio.Future[None]] = []

    def push(self, ev: SessionEvent) -> None:
        self._events.append(ev)
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def next(self, timeout: float | None = None) -> SessionEvent | None:
        if not self._events:
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            timer = None if timeout is None else loop.create_task(self._expire(waiter, timeout))
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self._events.popleft() if self._events else None

    async def _expire(self, waiter: asyncio.Future[None], timeout: float) -> None:
        await self._clock.sleep(timeout)
        if not waiter.done():
            waiter.set_result(None)
