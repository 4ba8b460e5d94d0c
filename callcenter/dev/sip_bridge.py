"""A SIP caller as a participant of a `LocalRoom`, so a supervisor can join their call.

The dev SIP endpoint gives each call a two-party `SipRoom` (caller and agent). The dev
server puts the caller into a `LocalRoom` instead, like the browser phone does: the caller's
RTP audio is pushed into a participant, the participant's mix (agent, supervisors) goes back
out on the call's RTP, DTMF is forwarded, and a hang-up on either side ends both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.base import DtmfReceived, ParticipantLeft, RoomClosed, RoomEvent
from callcenter.rooms.local import LocalParticipant, LocalRoom
from callcenter.rooms.sip.room import SipRoom

RATE = 8000  # G.711: the phone line's rate, in and out


class SipBridge:
    """Joins `sip.caller` to `room` and moves its media both ways until either side ends."""

    def __init__(self, sip: SipRoom, room: LocalRoom) -> None:
        self.sip, self.room = sip, room
        self._out: deque[AudioFrame] = deque()
        self._out_ready = asyncio.Event()
        self.participant: LocalParticipant = room.join(
            sip.caller.identity, sip.caller.kind, sample_rate=RATE,
            attributes=dict(sip.caller.attributes), on_audio=self._mix,
        )  # no text: a phone line has no data channel (the call feed taps the room)
        sip.on_event(self._on_sip_event)
        room.on_event(self._on_room_event)
        self._tasks = [asyncio.ensure_future(self._pump_in()),
                       asyncio.ensure_future(self._pump_out())]

    def _mix(self, frame: AudioFrame, who: tuple[str, ...]) -> None:
        # Only frames somebody speaks in: the line plays silence by itself when nothing is
        # queued, so the two 20 ms clocks can never build up delay between them.
        if who:
            self._out.append(frame)
            self._out_ready.set()

    async def _pump_in(self) -> None:
        async for frame in self.sip.audio_stream(self.sip.caller.identity, RATE):
            if not self.participant.present:
                break
            self.participant.push_audio(frame.samples)

    async def _pump_out(self) -> None:
        out = self.sip.audio_output
        while not self.sip.closed:
            await self._out_ready.wait()
            self._out_ready.clear()
            while self._out:
                await out.capture_frame(self._out.popleft())

    def _on_sip_event(self, event: RoomEvent) -> None:
        if isinstance(event, DtmfReceived):
            if self.participant.present:
                self.participant.send_dtmf(event.digit)
        elif isinstance(event, ParticipantLeft | RoomClosed):
            self.participant.leave()

    def _on_room_event(self, event: RoomEvent) -> None:
        # The agent hung up (or transferred the caller away): end the phone call too.
        caller_gone = isinstance(event, ParticipantLeft) and (
            event.participant.identity == self.participant.identity)
        if (isinstance(event, RoomClosed) or caller_gone) and not self.sip.closed:
            self._hangup = asyncio.ensure_future(self.sip.hangup())

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.participant.leave()
        if not self.sip.closed:
            await self.sip.hangup()
