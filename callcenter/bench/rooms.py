"""The room a bench call's agent sees: the caller's `LocalRoom` itself, or a real media path.

The scripted caller always lives in a `LocalRoom` (its clock and its ears are the ground
truth every figure is read from). With `--room livekit` or `--room sip` the agent does not
touch that room's audio: the caller's frames cross the production media code of that path
(`rooms_livekit`, `rooms_sip`) and the agent's voice crosses it back, and only what comes
out of the far end reaches the other side.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from typing import Literal, Protocol

import numpy as np

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.base import AudioOutput, Participant, Room, RoomEvent
from callcenter.rooms.local import LocalRoom

RoomMode = Literal["local", "livekit", "sip"]
ROOM_MODES: tuple[RoomMode, ...] = ("local", "livekit", "sip")
# How long after the agent's last audible frame silence is still passed on to the caller:
# the pauses between words stay where they were; the idle line (a LiveKit source plays
# silence when nothing is queued, RTP sends silence packets) is not "the agent talking".
_HANGOVER_MS = 200.0


def check_room_mode(mode: str) -> RoomMode:
    """`mode` as a room mode, or a ValueError that lists the choices."""
    for m in ROOM_MODES:
        if mode == m:
            return m
    raise ValueError(f"unknown bench room {mode!r}: use one of {', '.join(ROOM_MODES)}")


class BenchLine(Protocol):
    """One bench call's media path: the room its agent uses, and how to take it down."""

    @property
    def agent_room(self) -> Room: ...

    async def start(self) -> None:
        """Open what needs the event loop (sockets); before the call starts."""

    async def aclose(self) -> None:
        """Stop the path (every task, socket and native stream it holds)."""


class _LocalLine:
    """Local mode: the agent is in the caller's room; nothing in between."""

    def __init__(self, local: LocalRoom) -> None:
        self.agent_room: Room = local

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class CallerEar:
    """Puts the agent's voice, as the far end of the path delivered it, into the caller's
    room, which plays it to the caller on its own 20 ms ticks."""

    def __init__(self, local: LocalRoom) -> None:
        self.local = local
        self._last_audible_ms = -1e9

    async def hear(self, frame: AudioFrame) -> None:
        now = self.local.now_ms()
        if np.any(frame.samples):
            self._last_audible_ms = now
        elif now - self._last_audible_ms > _HANGOVER_MS:
            return
        if not self.local.closed:
            await self.local.audio_output.capture_frame(frame)


class RelayRoom(Room):
    """The agent's view of the caller's room with its audio replaced by a media path:
    participants, events, text and hang-up are the local room's."""

    def __init__(self, local: LocalRoom) -> None:
        self.local = local
        self.name = local.name
        self.local_identity = local.local_identity
        self.clock = local.clock

    @property
    @abc.abstractmethod
    def audio_output(self) -> AudioOutput: ...

    @abc.abstractmethod
    def audio_stream(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]: ...

    def participants(self) -> list[Participant]:
        return self.local.participants()

    def on_event(self, callback: Callable[[RoomEvent], None]) -> None:
        self.local.on_event(callback)

    async def send_text(
        self, text: str, *, topic: str = "lk.chat", to: list[str] | None = None
    ) -> None:
        await self.local.send_text(text, topic=topic, to=to)

    async def publish_transcript(self, identity: str, text: str, *, final: bool) -> None:
        await self.local.publish_transcript(identity, text, final=final)

    async def hangup(self) -> None:
        await self.local.hangup()

    async def transfer(self, target: str) -> None:
        await self.local.transfer(target)


def restamped(frame: AudioFrame, offset_ms: float) -> AudioFrame:
    """`frame` moved onto the caller room's media time line."""
    return AudioFrame(frame.samples, frame.sample_rate, frame.timestamp_ms + offset_ms)


def line_for(mode: RoomMode, local: LocalRoom, caller: Participant) -> BenchLine:
    """The media path of one bench call whose caller (`caller`) is about to join `local`."""
    if mode == "local":
        return _LocalLine(local)
    if mode == "livekit":
        from callcenter.bench.rooms_livekit import LiveKitLine

        return LiveKitLine(local, caller)
    from callcenter.bench.rooms_sip import SipLine

    return SipLine(local, caller)
