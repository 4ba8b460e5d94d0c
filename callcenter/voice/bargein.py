"""Barge-in: when caller speech stops the agent, and what happens after a false alarm."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from callcenter.voice.events import AgentInterrupted
from callcenter.voice.speech import SpeechHandle

if TYPE_CHECKING:
    from callcenter.voice.listener import ParticipantListener
    from callcenter.voice.session import VoiceSession


class BargeIn:
    """Pauses the agent on caller speech, stops it for good once words arrive, and resumes
    it when the "interruption" produced no words (a cough, a door, a "hm")."""

    def __init__(self, session: VoiceSession) -> None:
        self.session = session
        self._false_timer: asyncio.Task[None] | None = None

    def check(self, listener: ParticipantListener, speech_ms: float, words: int) -> None:
        """Called per 20 ms frame while `listener` speaks."""
        s = self.session
        cur = s.current
        if cur is None or cur.done() or cur.paused or not cur.interruptible:
            return
        cfg = s.settings.interruption
        if not cfg.enabled or s.listen_only:
            return
        if cur.started:
            if speech_ms < 1000 * cfg.min_duration_speaking or words < cfg.min_words_speaking:
                return
            # Stop the audio now (the room's buffer is cleared); decide later whether the
            # caller really took the turn.
            cur.pause(s.media_now())
            m = cur.turn_metrics
            if m is not None:
                m.extra["barge_in_ms"] = s.media_now() - listener.speech_start_ms
            self._false_timer = s.spawn(self._false_alarm(cur, listener.identity))
        else:
            if speech_ms < 1000 * cfg.min_duration_thinking or words < cfg.min_words_thinking:
                return
            # Still thinking: drop the reply; the caller's new words extend their turn.
            s.cancel_reply(cur)

    def words_heard(self) -> None:
        """A transcript with words arrived: a paused agent was really interrupted."""
        cur = self.session.current
        if cur is not None and cur.paused and not cur.done():
            self.stop(cur)

    def stop(self, cur: SpeechHandle) -> None:
        """Stop `cur` for good and record what the caller heard."""
        s = self.session
        if self._false_timer is not None:
            self._false_timer.cancel()
            self._false_timer = None
        s.drop_queued()
        was_started = cur.started
        cur.interrupt(s.media_now())
        if was_started:
            m = cur.turn_metrics
            if m is not None:
                m.interrupted = True
                m.interruptions += 1
            s.push_event(AgentInterrupted(cur.heard_text, cur.planned_text))

    async def _false_alarm(self, cur: SpeechHandle, identity: str) -> None:
        s = self.session
        await s.clock.sleep(s.settings.interruption.false_interruption_timeout)
        if cur.done() or not cur.paused:
            return
        listener = s.listeners.get(identity)
        if listener is not None and listener.vad.speaking:
            # Still talking but no words yet: keep waiting, do not talk over them.
            self._false_timer = s.spawn(self._false_alarm(cur, identity))
            return
        if s.settings.interruption.resume_false_interruption:
            cur.resume()
        else:
            self.stop(cur)
