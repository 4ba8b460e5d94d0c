"""`BrowserPeer`: a browser's WebRTC audio as a participant of a `LocalRoom` (dev only).

The dev server's browser phone and supervisor console talk WebRTC to this aiortc peer. The
browser's microphone (Opus, decoded by aiortc to 48 kHz) is pushed into a `LocalParticipant`;
the participant's mix (everyone else in the room, which the room resamples to 48 kHz) goes
back as an aiortc audio track, one 20 ms frame per 20 ms. Signaling is one HTTP exchange
(offer in, answer out) with no trickle: the answer is returned once ICE gathering is done.

Production uses LiveKit rooms and livekit-client instead; nothing outside dev imports this.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.base import ParticipantKind, ParticipantLeft, RoomClosed, RoomEvent
from callcenter.rooms.local import LocalParticipant, LocalRoom, TextCallback

log = logging.getLogger(__name__)

RATE = 48000  # WebRTC's Opus rate: the room resamples to and from it per participant
FRAME_SAMPLES = RATE // 50  # 20 ms
# Mix frames buffered for the browser before the oldest is dropped: the room's tick and the
# sender's pacing run on the same loop clock, so more than this means the loop stalled.
MAX_BUFFERED = 5


class SignalingError(Exception):
    """The browser's offer cannot be answered (bad SDP, no audio); the message says why."""


class MixTrack(MediaStreamTrack):
    """The participant's mix as an outgoing audio track, paced at one 20 ms frame per 20 ms."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._frames: deque[np.ndarray] = deque()
        self._start: float | None = None
        self._sent = 0
        self._silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self._time_base = fractions.Fraction(1, RATE)

    def feed(self, frame: AudioFrame, _who: tuple[str, ...]) -> None:
        """The room's `on_audio` callback: one mixed 20 ms frame at 48 kHz per tick."""
        self._frames.append(frame.samples)
        while len(self._frames) > MAX_BUFFERED:
            self._frames.popleft()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        # Pace from a fixed start so timing errors never accumulate (aiortc pulls as fast as
        # recv returns; the browser's jitter buffer wants a steady 20 ms).
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._sent / RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.2:  # the loop stalled for a while: restart the clock, don't burst
            self._start, self._sent = time.monotonic(), 0
        samples = self._frames.popleft() if self._frames else self._silence
        if len(samples) != FRAME_SAMPLES:
            samples = np.resize(samples, FRAME_SAMPLES)
        out = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1), format="s16",
            layout="mono",
        )
        out.sample_rate = RATE
        out.pts = self._sent
        out.time_base = self._time_base
        self._sent += FRAME_SAMPLES
        return out


class BrowserPeer:
    """One browser's audio connection, joined to `room` as `identity` once answered.

    `on_text` hears the room's text (transcripts, the hand-off brief); `on_closed` runs once
    when the peer ends for any reason (the browser left, the ICE connection failed, the room
    closed, `aclose`).
    """

    def __init__(
        self,
        room: LocalRoom,
        identity: str,
        kind: ParticipantKind,
        *,
        attributes: dict[str, str] | None = None,
        on_text: TextCallback | None = None,
        on_closed: Callable[[BrowserPeer], None] | None = None,
    ) -> None:
        self.room = room
        self.identity = identity
        self.kind = kind
        self.attributes = dict(attributes or {})
        self.on_text = on_text
        self.on_closed = on_closed
        # No STUN: the dev server and the browser share a host (aiortc's default would ask
        # a public STUN server and stall gathering on an offline machine).
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = MixTrack()
        self.participant: LocalParticipant | None = None
        self.frames_in = 0  # decoded browser frames pushed into the room (tests read it)
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._closing: asyncio.Task[None] | None = None

    async def answer(self, offer_sdp: str) -> str:
        """Answer the browser's offer (ICE gathered, no trickle) and join the room."""
        if "m=audio" not in offer_sdp:
            raise SignalingError("the offer has no audio section (add an audio transceiver)")
        pc = self.pc

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and self._reader is None:
                self._reader = asyncio.ensure_future(self._read(track))

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.aclose()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except ValueError as exc:
            await self.aclose()
            raise SignalingError(f"the offer is not valid SDP: {exc}") from None
        pc.addTrack(self.track)
        # aiortc gathers every candidate inside setLocalDescription: the answer is complete.
        await pc.setLocalDescription(await pc.createAnswer())
        self.participant = self.room.join(
            self.identity, self.kind, sample_rate=RATE, attributes=self.attributes,
            on_audio=self.track.feed, on_text=self.on_text,
        )
        self.room.on_event(self._on_room_event)
        return pc.localDescription.sdp

    async def _read(self, track: MediaStreamTrack) -> None:
        # Opus decodes to 48 kHz, usually stereo: one resampler makes it mono s16.
        mono = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        try:
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                if self.participant is None or not self.participant.present:
                    continue
                for f in mono.resample(frame):
                    self.participant.push_audio(f.to_ndarray().reshape(-1).astype(np.int16))
                    self.frames_in += 1
        except MediaStreamError:
            pass  # the browser stopped sending
        finally:
            if not self._closed:
                self._close_soon()

    def _on_room_event(self, event: RoomEvent) -> None:
        gone = isinstance(event, RoomClosed) or (
            isinstance(event, ParticipantLeft) and event.participant.identity == self.identity
        )
        if gone and not self._closed:
            self._close_soon()

    def _close_soon(self) -> None:
        # Called from callbacks that cannot await; the task is kept so it is not collected.
        if self._closing is None:
            self._closing = asyncio.ensure_future(self.aclose())

    async def wait_connected(self, timeout: float) -> bool:
        """True once media flows (ICE and DTLS up); False on timeout or if the peer closed."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.pc.connectionState != "connected":
            if self._closed or asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Leave the room and close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.participant is not None:
            self.participant.leave()
        self.track.stop()
        reader = self._reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        with contextlib.suppress(Exception):
            await self.pc.close()
        if self.on_closed is not None:
            self.on_closed(self)


__all__ = ["RATE", "BrowserPeer", "MixTrack", "SignalingError"]
