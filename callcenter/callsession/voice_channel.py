"""The voice call's channel: a `VoiceSession` on a `Room` (LiveKit, local, dev SIP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from callcenter.audio.frame import AudioFrame
from callcenter.audio.hold import hold_frames
from callcenter.callsession.apology import play
from callcenter.callsession.channel import LineHook, Spoken, TextSource
from callcenter.callsession.listen import listen
from callcenter.flow.actions import Listen
from callcenter.flow.events import Event
from callcenter.rooms.base import Room, is_staff
from callcenter.speech.stt.expect import Expectation
from callcenter.voice import CallEnded, ParticipantGone, UserTurn, VoiceSession


class VoiceChannel:
    """Speaks through the voice session and hears the caller's turns, keys and silence."""

    written = False

    def __init__(self, voice: VoiceSession, room: Room, is_caller: Callable[[str], bool],
                 apology: AudioFrame | None = None) -> None:
        self.voice, self.room = voice, room
        self.is_caller = is_caller
        self.apology = apology
        self._swallow: str | None = None

    def say(self, text: TextSource, *, interruptible: bool = True) -> Spoken:
        return self.voice.say(text, interruptible=interruptible)

    def prepare_listen(self, action: Listen) -> None:
        # Endpointing holds a turn open while a number is incomplete ("four eight two ...
        # nine one three"): set before the prompt ends, since the answer may barge in.
        self.voice.expected_digits = action.expect_digits
        self.voice.expect_yes_no = action.expect_yes_no
        # The recognizer is told too: Whisper is prompted with it, and closed answers get
        # the grammar's second opinion (speech.stt.expect).
        self._expect(Expectation.of(digits=action.expect_digits, yes_no=action.expect_yes_no,
                                    phrases=action.hints, kind=action.expect))

    def _expect(self, expectation: Expectation | None) -> None:
        for listener in self.voice.listeners.values():
            listener.stt.expect(expectation)

    async def listen(self, action: Listen) -> Event | None:
        # A caller answer that barged into the prompt stays queued on the voice session.
        try:
            result, self._swallow = await listen(self.voice, action, self.is_caller,
                                                 self._swallow)
        finally:
            self.voice.expected_digits, self.voice.expect_yes_no = None, False
            self._expect(None)
        # A full keypad answer is often followed by '#': that key is dropped by the next
        # listen, and must not cut off the prompt that comes before it either.
        self.voice.ignore_key = self._swallow
        return result

    @property
    def can_hear_again(self) -> bool:
        """The caller's STT has a second recognizer (else a missed turn is simply asked
        again, and the interpreter does not even try the turn first)."""
        return any(listener.stt.hears_again for identity, listener in self.voice.listeners.items()
                   if self.is_caller(identity))

    async def hear_again(self) -> list[str]:
        """The caller's last turn as the STT's second recognizer reads it, then any other
        readings it made of it, best first (none: it has no second recognizer, or nothing
        was kept): for a turn the flow did not understand."""
        for identity, listener in list(self.voice.listeners.items()):
            if self.is_caller(identity):
                result = await listener.stt.hear_again()
                if result is None:
                    return []
                readings = (result.text, *result.alternatives)
                return [r.strip() for r in readings if r.strip()]
        return []

    async def apologise(self) -> None:
        if self.apology is not None:
            await play(self.room.audio_output, self.apology)

    async def transfer(self, target: str) -> None:
        await self.room.transfer(target)

    async def hang_up(self) -> None:
        await self.room.audio_output.wait_for_playout()  # let the goodbye finish
        await self.room.hangup()

    async def hold(self, seconds: float) -> None:
        output = self.room.audio_output
        try:
            # capture_frame applies back-pressure: this plays in real time, not all at once.
            for frame in hold_frames(output.sample_rate, seconds):
                await output.capture_frame(frame)
            await output.wait_for_playout()
        except asyncio.CancelledError:
            output.clear()  # a person answered: the music stops at once
            raise

    async def send_data(self, topic: str, payload: dict[str, Any]) -> None:
        # Supervisor-only (the brief, suggestions): addressed to the staff in the room now,
        # never to everyone, since a caller on a browser could read a room-wide message.
        # Nobody here yet is fine: the call's record keeps it, and a console that joins
        # later reads it there (escalation.handoff_log).
        await self.room.send_text(json.dumps(payload, default=str), topic=topic,
                                  to=self.staff())

    def staff(self) -> list[str]:
        """Who in the room may read supervisor-only data (see `rooms.base.is_staff`)."""
        return [p.identity for p in self.room.participants()
                if is_staff(p) and not self.is_caller(p.identity)]

    async def caller_gone(self, on_line: LineHook | None = None) -> None:
        # While a person has the call nobody else reads the session's events; what they say
        # is still transcribed and recorded by the voice session itself.
        while True:
            ev = await self.voice.next_event()
            if isinstance(ev, UserTurn) and on_line is not None and ev.text.strip():
                on_line("caller" if self.is_caller(ev.identity) else "supervisor", ev.text)
            if isinstance(ev, CallEnded) or (
                isinstance(ev, ParticipantGone) and self.is_caller(ev.identity)
            ):
                return

    async def set_listen_only(self, on: bool) -> None:
        await self.voice.set_listen_only(on)
