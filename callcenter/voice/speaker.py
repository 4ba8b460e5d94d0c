"""The agent's mouth: plays queued `SpeechHandle`s one after another into the room."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from callcenter.rooms.base import AudioOutput
from callcenter.rooms.clock import Clock
from callcenter.speech import TTS
from callcenter.voice.speech import SpeechHandle


class AgentSpeaker:
    """A queue of agent utterances; `on_finished` is called for each one that ran.

    The next utterance starts in the same moment the one before it ends, or the moment
    it is queued when nothing is playing: no task sits between `say()` and the speech
    starting, since on a busy worker every hop to another task waits out one pass of
    every other call's frame work.
    """

    def __init__(
        self,
        tts: TTS,
        output: AudioOutput,
        clock: Clock,
        media_now: Callable[[], float],
        on_finished: Callable[[SpeechHandle], None],
        *,
        chunk_ms: float,
    ) -> None:
        self._tts, self._output, self._clock = tts, output, clock
        self._media_now = media_now
        self._on_finished = on_finished
        self._chunk_ms = chunk_ms
        self._queue: deque[SpeechHandle] = deque()
        self.current: SpeechHandle | None = None
        self._running = False  # between start() and aclose()

    def start(self) -> None:
        self._running = True
        self._next()

    def enqueue(self, handle: SpeechHandle) -> None:
        self._queue.append(handle)
        if self.current is None:
            self._next()

    def drop_queued(self, *, everything: bool = False) -> None:
        """Cancel queued speech up to the first uninterruptible one (or all of it)."""
        while self._queue:
            h = self._queue.popleft()
            if h.interruptible or everything:
                h.interrupt(self._media_now())
            else:
                self._queue.appendleft(h)
                break

    def _next(self) -> None:
        """Start the first queued utterance that is still wanted (none: idle)."""
        self.current = None
        while self._running and self._queue:
            handle = self._queue.popleft()
            if handle.done():
                continue
            self.current = handle
            handle.on_done = self._done
            handle.start(
                self._tts, self._output, self._clock, self._media_now, chunk_ms=self._chunk_ms
            )
            return

    def _done(self, handle: SpeechHandle) -> None:
        self._on_finished(handle)
        if self.current is handle:
            self._next()

    async def aclose(self, media_now: float) -> None:
        """Stop speaking; an utterance still playing is cut off (and so recorded)."""
        self._running = False
        current, self.current = self.current, None
        if current is not None:
            current.interrupt(media_now)  # its task cancels and cleans up on its own
