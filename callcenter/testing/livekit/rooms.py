"""Room connectors for running the worker without a media server.

`LocalRoomConnector` joins each assignment to an in-process `LocalRoom`. `redis_transcript_rooms`
additionally copies every transcript line to a Redis list, so a test can follow one call
across worker processes (`callcenter worker --room-connector ...:redis_transcript_rooms`).
"""

from __future__ import annotations

import os

import redis.asyncio as aioredis

from callcenter.dispatch.job import RoomTicket
from callcenter.rooms.base import Room
from callcenter.rooms.local import LocalRoom

TRANSCRIPT_KEY = "cc:test:transcript:{room}"


class _OwnRoom(LocalRoom):
    """A room that exists for one job: the agent leaving ends it."""

    async def aclose(self) -> None:
        self.close("agent left")


class LocalRoomConnector:
    """Joins every assignment to a fresh LocalRoom and remembers them (for assertions)."""

    def __init__(self) -> None:
        self.rooms: list[LocalRoom] = []
        self.tickets: list[RoomTicket] = []

    async def __call__(self, ticket: RoomTicket) -> Room:
        self.tickets.append(ticket)
        room = _OwnRoom(ticket.room_name, agent_identity=ticket.identity)
        self.rooms.append(room)
        return room

    def said(self) -> list[str]:
        """Every final transcript line published, in order, as `identity: text`."""
        return [
            text
            for room in self.rooms
            for (_who, topic, text, _to) in room.messages
            if topic == "lk.transcription"
        ]


class _MirroredRoom(LocalRoom):
    def __init__(self, name: str, identity: str, client: aioredis.Redis) -> None:
        super().__init__(name, agent_identity=identity)
        self._client = client

    async def publish_transcript(self, identity: str, text: str, *, final: bool) -> None:
        await super().publish_transcript(identity, text, final=final)
        if final:
            await self._client.rpush(TRANSCRIPT_KEY.format(room=self.name), text)  # type: ignore[misc]

    async def aclose(self) -> None:
        self.close("left")
        await self._client.aclose()


async def redis_transcript_rooms(ticket: RoomTicket) -> Room:
    """A LocalRoom whose transcript lines also go to Redis (`REDIS_URL`) for cross-process tests."""
    url = os.environ.get("REDIS_URL")
    if not url:
        raise RuntimeError("redis_transcript_rooms needs REDIS_URL to be set")
    return _MirroredRoom(ticket.room_name, ticket.identity, aioredis.Redis.from_url(url))
