"""The agent's mouth: plays queued `SpeechHandle`s one after another into the room."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from callcenter.rooms.base import AudioOutput
from callcenter.rooms.clock import Clock
from callcenter.speech import TTS
from callcenter.voice.speech import SpeechHandle


class AgentSpeaker:
    """A queue of agent utterances; `on_finished` is called for each one that ran."""

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
        self._wake = asyncio.Event()
        self.current: SpeechHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def enqueue(self, handle: SpeechHandle) -> None:
        self._queue.append(handle)
        self._wake.set()

    def drop_queued(self, *, everything: bool = False) -> None:
        """Cancel queued speech up to the first uninterruptible one (or all of it)."""
        while self._queue:
            h = self._queue.popleft()
            if h.interruptible or everything:
                h.interrupt(self._media_now())
            else:
                self._queue.appendleft(h)
                break

    async def _loop(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            handle = self._queue.popleft()
            if handle.done():
                continue
            self.current = handle
            handle.on_done = self._on_finished
            handle.start(
                self._tts, self._output, self._clock, self._media_now, chunk_ms=self._chunk_ms
            )
            await handle.wait()
            self.current = None

    async def aclose(self, media_now: float) -> None:
        """Stop the loop; an utterance still playing is cut off (and so recorded)."""
        if self.current is not None:
            self.current.interrupt(media_now)
            self.current = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
