"""Fixtures for dispatch tests: Redis DB 11 (a key prefix per test), a fake LiveKit server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callcenter.testing.livekit import FakeLiveKitServer
from callcenter.testing.livekit.rooms import LocalRoomConnector

# The shared Redis fixtures (DB 11, a key prefix per test): see tests/redis_db.py.
from tests.redis_db import REDIS_URL, redis11_url, redis_prefix  # noqa: F401


@pytest.fixture
async def fake_livekit() -> AsyncIterator[FakeLiveKitServer]:
    async with FakeLiveKitServer() as server:
        yield server


@pytest.fixture
def room_log() -> LocalRoomConnector:
    return LocalRoomConnector()
