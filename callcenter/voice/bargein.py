"""Barge-in: when caller speech stops the agent, and what happens after a false alarm.

`BargeIn` sees the session only through the few values and callables below, so it can be
read (and tested) on its own: the agent's current utterance, whether the agent is muted
(listen-only), whether a participant is still speaking, how to drop queued speech, and
where to report an interruption.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from callcenter.rooms.clock import Clock
from callcenter.voice.events import AgentInterrupted
from callcenter.voice.settings import InterruptionSettings
from callcenter.voice.speech import SpeechHandle


class BargeIn:
    """Pauses the agent on caller speech, stops it for good once words arrive, and resumes
    it when the "interruption" produced no words (a cough, a door, a "hm")."""

    def __init__(
        self,
        settings: InterruptionSettings,
        clock: Clock,
        *,
        current: Callable[[], SpeechHandle | None],
        muted: Callable[[], bool],
        is_speaking: Callable[[str], bool],
        drop_queued: Callable[[], None],
        media_now: Callable[[], float],
        on_interrupted: Callable[[AgentInterrupted], None],
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._current = current
        self._muted = muted
        self._is_speaking = is_speaking
        self._drop_queued = drop_queued
        self._media_now = media_now
        self._on_interrupted = on_interrupted
        self._false_timer: asyncio.Task[None] | None = None

    def check(self, identity: str, onset_ms: float, speech_ms: float, words: int) -> None:
        """Called per 20 ms frame while `identity` speaks (voice onset at `onset_ms`)."""
        cur = self._current()
        if cur is None or cur.done() or cur.paused or not cur.interruptible:
            return
        cfg = self.settings
        if not cfg.enabled or self._muted():
            return
        if cur.started:
            if speech_ms < 1000 * cfg.min_duration_speaking or words < cfg.min_words_speaking:
                return
            # Stop the audio now (the room's buffer is cleared); decide later whether the
            # caller really took the turn.
            now = self._media_now()
            cur.pause(now)
            m = cur.turn_metrics
            if m is not None:
                m.extra["barge_in_ms"] = now - onset_ms
            self.close()  # a timer left from an earlier utterance has nothing to decide
            self._arm(cur, identity)
        else:
            if speech_ms < 1000 * cfg.min_duration_thinking or words < cfg.min_words_thinking:
                return
            # Still thinking: drop the reply (nothing was heard); the caller's new words
            # make a new turn, and whoever drives the conversation answers that one.
            self.cancel_reply(cur)

    def cancel_reply(self, cur: SpeechHandle) -> None:
        """More caller speech while the agent is thinking: drop the reply unheard."""
        self._drop_queued()
        cur.interrupt(self._media_now())

    def words_heard(self) -> None:
        """A transcript with words arrived: a paused agent was really interrupted."""
        cur = self._current()
        if cur is not None and cur.paused and not cur.done():
            self.stop(cur)

    def stop(self, cur: SpeechHandle) -> None:
        """Stop `cur` for good and record what the caller heard."""
        self.close()
        self._drop_queued()
        was_started = cur.started
        cur.interrupt(self._media_now())
        if was_started:
            m = cur.turn_metrics
            if m is not None:
                m.interrupted = True
                m.interruptions += 1
            self._on_interrupted(AgentInterrupted(cur.heard_text, cur.planned_text))

    def close(self) -> None:
        """Forget a pending false-alarm decision."""
        if self._false_timer is not None:
            self._false_timer.cancel()
            self._false_timer = None

    def _arm(self, cur: SpeechHandle, identity: str) -> None:
        self._false_timer = asyncio.get_running_loop().create_task(
            self._false_alarm(cur, identity)
        )

    async def _false_alarm(self, cur: SpeechHandle, identity: str) -> None:
        await self._clock.sleep(self.settings.false_interruption_timeout)
        if self._false_timer is asyncio.current_task():
            self._false_timer = None  # decided now: stop() must not cancel this task
        if cur.done() or not cur.paused:
            return
        if self._is_speaking(identity):
            # Still talking but no words yet: keep waiting, do not talk over them.
            self._arm(cur, identity)
            return
        if self.settings.resume_false_interruption:
            cur.resume()
        else:
            self.stop(cur)
