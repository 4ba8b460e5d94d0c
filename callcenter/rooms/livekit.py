"""`LiveKitRoom`: the `Room` interface on `livekit.rtc` (what the agent sees of a call's room).

Caller audio comes from the participant's subscribed track through a native audio stream
(resampled by the SDK to the rate STT wants, 20 ms frames); the agent speaks through one
`AudioSource` published as a microphone track; DTMF, data, joins and leaves become our room
events; transcripts go out as text streams on `lk.transcription`. Hang-up deletes the room
(every SIP leg gets a BYE); leaving (`aclose`) only disconnects the agent. A cold transfer is
a SIP REFER of the caller's leg (`transfer_sip_participant`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
from livekit import api, rtc
from livekit.protocol import sip

from callcenter.audio.frame import AudioFrame
from callcenter.dispatch.job import RoomTicket
from callcenter.rooms.base import (
    DataReceived,
    DtmfReceived,
    Participant,
    ParticipantJoined,
    ParticipantKind,
    ParticipantLeft,
    Room,
    RoomCapabilityError,
    RoomClosed,
    RoomEvent,
    TransferFailed,
)
from callcenter.rooms.livekit_audio import LiveKitAudioOutput, closing_frames, track_frames
from callcenter.rooms.livekit_ffi import install_routed_queue
from callcenter.rooms.livekit_participants import to_participant

log = logging.getLogger(__name__)

OUTPUT_RATE = 24000
TRANSCRIPTION_TOPIC = "lk.transcription"


class LiveKitRoom(Room):
    """A connected (or, in tests, unconnected) `rtc.Room` seen through our interface."""

    def __init__(
        self,
        room: rtc.Room,
        *,
        name: str = "",
        identity: str = "",
        lkapi: api.LiveKitAPI | None = None,
        output_rate: int = OUTPUT_RATE,
    ) -> None:
        self.rtc = room
        self.name = name or room.name
        self.local_identity = identity
        self._lkapi = lkapi
        self._source = rtc.AudioSource(output_rate, 1)
        self._output = LiveKitAudioOutput(self._source)
        self._track: rtc.LocalAudioTrack | None = None
        self._publication: rtc.LocalTrackPublication | None = None
        self._callbacks: list[Callable[[RoomEvent], None]] = []
        self._audio_tracks: dict[str, rtc.Track] = {}
        self._track_ready: dict[str, asyncio.Event] = {}
        self._segments = itertools.count(1)
        self._closed = False
        room.on("participant_connected", self._on_joined)
        room.on("participant_disconnected", self._on_left)
        room.on("track_subscribed", self._on_track)
        room.on("track_unsubscribed", self._on_track_gone)
        room.on("sip_dtmf_received", self._on_dtmf)
        room.on("data_received", self._on_data)
        room.on("disconnected", self._on_disconnected)

    # --- Room interface -------------------------------------------------------------------

    def participants(self) -> list[Participant]:
        return [to_participant(p) for p in self.rtc.remote_participants.values()]

    def audio_stream(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        return self._stream(identity, sample_rate)

    @property
    def audio_output(self) -> LiveKitAudioOutput:
        return self._output

    def on_event(self, callback: Callable[[RoomEvent], None]) -> None:
        self._callbacks.append(callback)

    async def send_text(
        self, text: str, *, topic: str = "lk.chat", to: list[str] | None = None
    ) -> None:
        if to is not None and not to:
            # LiveKit sends a message with no destinations to EVERYONE: nobody means nobody.
            return
        await self.rtc.local_participant.send_text(text, topic=topic, destination_identities=to)

    async def publish_transcript(self, identity: str, text: str, *, final: bool) -> None:
        attrs = {
            "lk.transcription_final": "true" if final else "false",
            "lk.segment_id": f"{identity}-{next(self._segments)}",
            "lk.transcribed_participant_identity": identity,
        }
        await self.rtc.local_participant.send_text(
            text, topic=TRANSCRIPTION_TOPIC, attributes=attrs
        )

    async def set_listen_only(self, listen_only: bool) -> None:
        self._output.enabled = not listen_only
        if listen_only:
            self._output.clear()
            if self._publication is not None:
                await self.rtc.local_participant.unpublish_track(self._publication.sid)
                self._publication = None
            await self._may_publish(False)
        else:
            await self._may_publish(True)
            if self._publication is None:
                await self.publish_audio()

    async def _may_publish(self, allowed: bool) -> None:
        """The server's word on the agent's publishing: while a person has the call the
        agent cannot publish audio at all (it keeps subscribing and sending data: the
        transcript, the brief, suggestions), so no bug can make the caller hear it."""
        if self._lkapi is None or not self.local_identity:
            return
        permission = api.ParticipantPermission(
            can_subscribe=True, can_publish=allowed, can_publish_data=True,
            can_update_metadata=True, agent=True)
        try:
            await self._lkapi.room.update_participant(api.UpdateParticipantRequest(
                room=self.name, identity=self.local_identity, permission=permission))
        except (api.ServerError, aiohttp.ClientError, TimeoutError) as exc:
            # Unpublishing above already silenced the agent; the grant is the second lock.
            log.warning("update_participant %s (can_publish=%s) failed: %s",
                        self.local_identity, allowed, exc)

    async def hangup(self) -> None:
        """End the call for everyone: delete the room (SIP legs get a BYE)."""
        if self._lkapi is not None:
            try:
                await self._lkapi.room.delete_room(api.DeleteRoomRequest(room=self.name))
                return
            except api.ServerError as exc:
                log.warning("delete_room %s failed (%s); leaving the room instead", self.name, exc)
        await self.aclose()

    async def transfer(self, target: str) -> None:
        """Cold transfer: LiveKit SIP sends the caller's leg a REFER to `target`.

        `target` is a phone number (sent as `tel:`) or a `sip:`/`tel:` URI. A refusal by the
        far end, LiveKit, or the network raises `TransferFailed` (with the SIP status when
        there is one), so the flow can take its failure route.
        """
        if self._lkapi is None:
            raise RoomCapabilityError(self.name, "transfer a call",
                                      "set LIVEKIT_API_KEY and LIVEKIT_API_SECRET")
        caller = next((p for p in self.participants() if p.kind == ParticipantKind.CALLER), None)
        if caller is None:
            raise TransferFailed(target, "no SIP caller in the room")
        request = api.TransferSIPParticipantRequest(
            participant_identity=caller.identity, room_name=self.name,
            transfer_to=sip_transfer_uri(target),
        )
        try:
            reply = await self._lkapi.sip.transfer_sip_participant(request)
        except api.SipCallError as exc:  # the far end answered the REFER with an error
            code = exc.sip_status_code
            said = " ".join(str(x) for x in (code, exc.sip_status) if x) or exc.message
            why = f"{exc.sip_transfer_reason}: {said}" if exc.sip_transfer_reason else said
            raise TransferFailed(target, why, code) from None
        except api.ServerError as exc:
            raise TransferFailed(target, f"LiveKit refused it ({exc.code}: {exc.message})"
                                 ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransferFailed(target, f"LiveKit unreachable ({type(exc).__name__})") from None
        # Servers before transfer outcomes answer an empty reply (status 0, "ongoing"): only
        # an explicit failure is one.
        if reply.status == sip.SIPTransferStatus.STS_TRANSFER_FAILED:
            reason = sip.SIPTransferReason.Name(reply.reason)
            code = reply.sip_status.code if reply.HasField("sip_status") else 0
            raise TransferFailed(target, f"{reason} {reply.sip_status.status}".strip(),
                                 code or None)

    # --- lifecycle ------------------------------------------------------------------------

    async def publish_audio(self) -> None:
        """Publish the agent's microphone track (done once after connecting)."""
        if self._track is None:
            self._track = rtc.LocalAudioTrack.create_audio_track("agent-voice", self._source)
        opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self._publication = await self.rtc.local_participant.publish_track(self._track, opts)

    async def aclose(self) -> None:
        """Leave the room (the call goes on without this agent)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.rtc.disconnect()
        finally:
            await self._source.aclose()
            if self._lkapi is not None:
                await self._lkapi.aclose()

    # --- events ---------------------------------------------------------------------------

    def _emit(self, event: RoomEvent) -> None:
        for cb in list(self._callbacks):
            try:
                cb(event)
            except Exception:  # one bad listener must not break the others
                log.exception("room event callback failed for %r", event)

    def _on_joined(self, p: rtc.RemoteParticipant) -> None:
        self._emit(ParticipantJoined(to_participant(p)))

    def _on_left(self, p: rtc.RemoteParticipant) -> None:
        self._audio_tracks.pop(p.identity, None)
        self._emit(ParticipantLeft(to_participant(p)))

    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._audio_tracks[p.identity] = track
            self._track_ready.setdefault(p.identity, asyncio.Event()).set()

    def _on_track_gone(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if self._audio_tracks.get(p.identity) is track:
            del self._audio_tracks[p.identity]
            self._track_ready.setdefault(p.identity, asyncio.Event()).clear()

    def _on_dtmf(self, dtmf: rtc.SipDTMF) -> None:
        who = dtmf.participant.identity if dtmf.participant is not None else ""
        self._emit(DtmfReceived(who, dtmf.digit))

    def _on_data(self, packet: rtc.DataPacket) -> None:
        who = packet.participant.identity if packet.participant is not None else ""
        self._emit(DataReceived(who, packet.topic or "", packet.data))

    def _on_disconnected(self, reason: object) -> None:
        self._emit(RoomClosed(str(reason)))

    async def _stream(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        """`identity`'s audio; waits for its track to be subscribed, ends when it goes."""
        ready = self._track_ready.setdefault(identity, asyncio.Event())
        await ready.wait()
        track = self._audio_tracks[identity]
        async with closing_frames(track_frames(track, sample_rate)) as frames:
            async for frame in frames:
                yield frame


def sip_transfer_uri(target: str) -> str:
    """What LiveKit's REFER takes: a `sip:`/`tel:` URI as is, a phone number as `tel:`."""
    t = target.strip()
    if t.lower().startswith(("sip:", "sips:", "tel:")):
        return t
    return f"tel:{t}"


async def connect_livekit_room(ticket: RoomTicket) -> Room:
    """The worker's default room connector: join with the assignment's token, publish audio."""
    from callcenter.config import get_settings

    settings = get_settings()
    install_routed_queue()  # one worker, many calls: the SDK's own queue is O(streams²)
    room = rtc.Room()
    await room.connect(ticket.url, ticket.token)
    lkapi = None
    if settings.livekit_api_key and settings.livekit_api_secret:
        lkapi = api.LiveKitAPI(
            settings.livekit_url or ticket.url,
            settings.livekit_api_key,
            settings.livekit_api_secret.get_secret_value(),
        )
    adapter = LiveKitRoom(room, name=ticket.room_name, identity=ticket.identity, lkapi=lkapi)
    await adapter.publish_audio()
    return adapter
