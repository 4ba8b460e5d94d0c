"""Media rooms: the Room interface, local in-process rooms, LiveKit rooms."""

from callcenter.rooms.base import (
    AudioOutput,
    DataReceived,
    DtmfReceived,
    Participant,
    ParticipantJoined,
    ParticipantKind,
    ParticipantLeft,
    Room,
    RoomClosed,
    RoomEvent,
)

__all__ = [
    "AudioOutput",
    "DataReceived",
    "DtmfReceived",
    "Participant",
    "ParticipantJoined",
    "ParticipantKind",
    "ParticipantLeft",
    "Room",
    "RoomClosed",
    "RoomEvent",
]
