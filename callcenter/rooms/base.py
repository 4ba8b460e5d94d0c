"""The Room interface: what the voice session and call session need from a media room.

Two implementations: `rooms.local.LocalRoom` (in-process, for dev and tests) and
`rooms.livekit.LiveKitRoom` (livekit.rtc). Nothing above this layer knows which one it has.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.clock import Clock


class ParticipantKind(StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    OTHER = "other"


# The role our own tokens and dial-outs put on the people we bring into a call (a browser
# joins LiveKit as a standard participant, so its kind alone does not say who it is).
ROLE_ATTRIBUTE = "callcenter.role"
# Roles that may read supervisor-only data (the brief, suggestions): the supervisor who has
# the call and silent monitors. Anyone else (a caller, however they joined) may not.
STAFF_ROLES = frozenset({"supervisor", "monitor"})


@dataclass(slots=True)
class Participant:
    identity: str
    kind: ParticipantKind
    name: str = ""
    # For SIP callers: sip.phoneNumber (caller id), sip.trunkPhoneNumber (dialed number), ...
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class ParticipantJoined:
    participant: Participant


@dataclass(slots=True, frozen=True)
class ParticipantLeft:
    participant: Participant


@dataclass(slots=True, frozen=True)
class DtmfReceived:
    identity: str
    digit: str


@dataclass(slots=True, frozen=True)
class DataReceived:
    identity: str
    topic: str
    data: bytes


@dataclass(slots=True, frozen=True)
class RoomClosed:
    reason: str = ""


class RoomCapabilityError(Exception):
    """The room cannot do what was asked (e.g. a transfer in a room with no phone line).

    A typed error, so the flow can route it (a transfer's failure route) instead of a crash.
    """

    def __init__(self, room: str, capability: str, hint: str = "") -> None:
        self.room, self.capability = room, capability
        super().__init__(f"{room} cannot {capability}" + (f": {hint}" if hint else ""))


class TransferFailed(Exception):
    """A transfer the room tried and the far end refused (SIP status when there is one)."""

    def __init__(self, target: str, message: str, sip_status: int | None = None) -> None:
        self.target, self.sip_status = target, sip_status
        super().__init__(f"transfer to {target} failed: {message}")


def is_staff(p: Participant) -> bool:
    """May `p` read supervisor-only data? Only a supervisor or a monitor we let in."""
    return p.kind == ParticipantKind.SUPERVISOR or p.attributes.get(ROLE_ATTRIBUTE) in STAFF_ROLES


RoomEvent = ParticipantJoined | ParticipantLeft | DtmfReceived | DataReceived | RoomClosed


class AudioOutput(abc.ABC):
    """The agent's one audio output into the room.

    Playout is paced in real time by the room; `capture_frame` applies back-pressure once
    a small buffer is queued. `clear()` drops everything queued (barge-in), and
    `played_ms` tells how much of the current utterance actually left the speaker.
    """

    sample_rate: int

    @abc.abstractmethod
    async def capture_frame(self, frame: AudioFrame) -> None: ...

    @abc.abstractmethod
    def clear(self) -> None:
        """Drop all queued audio now (barge-in)."""

    @abc.abstractmethod
    async def wait_for_playout(self) -> None:
        """Return when everything captured so far has been played (or cleared)."""

    @property
    @abc.abstractmethod
    def queued_ms(self) -> float:
        """Audio captured but not yet played."""

    @property
    @abc.abstractmethod
    def played_ms(self) -> float:
        """Total audio played since the output was created (monotonic; used for 'heard text')."""


class Room(abc.ABC):
    """A call's media room, seen from the agent.

    Optional capabilities have a default here that says the room cannot do them (a typed
    `RoomCapabilityError`), so callers never probe rooms with `getattr`.
    """

    name: str
    local_identity: str
    # A room with its own media clock (local rooms run on virtual time in tests); None: real time.
    clock: Clock | None = None

    @abc.abstractmethod
    def participants(self) -> list[Participant]: ...

    @abc.abstractmethod
    def audio_stream(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        """Audio from one remote participant, resampled to `sample_rate`, in 20 ms frames."""

    @property
    @abc.abstractmethod
    def audio_output(self) -> AudioOutput: ...

    @abc.abstractmethod
    def on_event(self, callback: Callable[[RoomEvent], None]) -> None:
        """Register a callback for room events (called on the event loop, must not block)."""

    @abc.abstractmethod
    async def send_text(
        self, text: str, *, topic: str = "lk.chat", to: list[str] | None = None
    ) -> None:
        """A text message on `topic`: to everyone when `to` is None, else only to the
        identities in `to` (an empty list reaches nobody; never 'everyone')."""

    @abc.abstractmethod
    async def publish_transcript(self, identity: str, text: str, *, final: bool) -> None:
        """Publish a live transcript line (topic `lk.transcription`)."""

    @abc.abstractmethod
    async def set_listen_only(self, listen_only: bool) -> None:
        """Stop (or resume) publishing agent audio; keep receiving everyone."""

    @abc.abstractmethod
    async def hangup(self) -> None:
        """End the call for everyone."""

    async def transfer(self, target: str) -> None:
        """Hand the caller to `target` (a phone number or SIP URI); raises `TransferFailed`."""
        raise RoomCapabilityError(type(self).__name__, "transfer a call",
                                  "this room has no phone line to transfer")

    async def aclose(self) -> None:
        """Leave the room without ending the call (the worker is stopping); default: nothing."""
        return None  # a room with no connection of its own has nothing to leave
