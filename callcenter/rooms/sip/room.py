"""`SipRoom`: one call of the dev SIP endpoint seen through the `Room` interface.

The room holds the caller (a CALLER participant carrying the same `sip.*` attributes a
LiveKit SIP participant has, so the call handler picks the flow by the dialed number the
same way) and the agent (this side). There is no data channel on a phone line: text and
transcripts are kept in `messages` and handed to `on_text` if one is set (the dev server
can show them). Hang-up sends a BYE; the caller's BYE makes the caller leave and closes
the room, as LiveKit does when the last SIP leg goes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.base import (
    DtmfReceived,
    Participant,
    ParticipantLeft,
    Room,
    RoomClosed,
    RoomEvent,
)
from callcenter.rooms.sip.media import RtpSession
from callcenter.rooms.sip.output import SipAudioOutput

log = logging.getLogger(__name__)

TextHook = Callable[[str, str, tuple[str, ...] | None], None]  # (topic, text, to)


class SipRoom(Room):
    """A SIP call as a room: the caller's RTP in, the agent's RTP out, DTMF, BYE."""

    def __init__(
        self, name: str, caller: Participant, media: RtpSession, *,
        send_bye: Callable[[], None], agent_identity: str = "agent",
    ) -> None:
        self.name = name
        self.local_identity = agent_identity
        self.caller = caller
        self.media = media
        self._send_bye = send_bye
        self._callbacks: list[Callable[[RoomEvent], None]] = []
        self._present = True
        self.closed = False
        self.close_reason = ""
        self.listen_only = False
        self.messages: list[tuple[str, str, tuple[str, ...] | None]] = []
        self.on_text: TextHook | None = None
        media.on_dtmf = self._on_dtmf

    # ------------------------------------------------------------------ Room interface

    def participants(self) -> list[Participant]:
        return [self.caller] if self._present else []

    def audio_stream(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        ch = self.media.subscribe(sample_rate)
        if identity != self.caller.identity or not self._present:
            ch.close()  # nobody else speaks on a phone line
        return ch.frames()

    @property
    def audio_output(self) -> SipAudioOutput:
        return self.media.output

    def on_event(self, callback: Callable[[RoomEvent], None]) -> None:
        self._callbacks.append(callback)

    async def send_text(
        self, text: str, *, topic: str = "lk.chat", to: list[str] | None = None
    ) -> None:
        dest = None if to is None else tuple(to)  # () reaches nobody
        self.messages.append((topic, text, dest))
        if self.on_text is not None:
            self.on_text(topic, text, dest)

    async def publish_transcript(self, identity: str, text: str, *, final: bool) -> None:
        if final:
            await self.send_text(f"{identity}: {text}", topic="lk.transcription")

    async def set_listen_only(self, listen_only: bool) -> None:
        self.listen_only = listen_only
        self.media.output.enabled = not listen_only
        if listen_only:
            self.media.output.clear()

    async def hangup(self) -> None:
        """End the call: BYE to the caller (sent and retried by the endpoint), room closed."""
        if self.closed:
            return
        self._send_bye()
        self.close("hangup")

    # ------------------------------------------------------------------ from the endpoint

    def caller_hung_up(self, reason: str = "caller hung up") -> None:
        """The caller sent BYE (or CANCEL, or never ACKed): they leave, the room closes."""
        if self._present:
            self._present = False
            self.caller.attributes["sip.callStatus"] = "hangup"
            self._emit(ParticipantLeft(self.caller))
        self.close(reason)

    def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.media.close()
        self._emit(RoomClosed(reason))

    def _on_dtmf(self, digit: str) -> None:
        if self._present and not self.closed:
            self._emit(DtmfReceived(self.caller.identity, digit))

    def _emit(self, event: RoomEvent) -> None:
        for cb in list(self._callbacks):
            try:
                cb(event)
            except Exception:  # one bad listener must not break the others
                log.exception("room event callback failed for %r", event)
