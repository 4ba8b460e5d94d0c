"""Opt-in: the worker against a real LiveKit server (set LIVEKIT_URL, LIVEKIT_API_KEY,
LIVEKIT_API_SECRET). Skipped otherwise, with that reason in the report."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from livekit import api

from callcenter.dispatch.job import JobContext
from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.dispatch.runner import CallRunner
from callcenter.dispatch.worker import AgentWorker
from callcenter.rooms.livekit import LiveKitRoom, connect_livekit_room

URL = os.environ.get("LIVEKIT_URL", "")
KEY = os.environ.get("LIVEKIT_API_KEY", "")
SECRET = os.environ.get("LIVEKIT_API_SECRET", "")

pytestmark = pytest.mark.skipif(
    not (URL and KEY and SECRET),
    reason="real LiveKit suite skipped: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
)


async def test_explicit_dispatch_reaches_our_worker_which_joins_the_room() -> None:
    joined: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handler(ctx: JobContext) -> None:
        assert isinstance(ctx.room, LiveKitRoom)
        if not joined.done():
            joined.set_result(ctx.room.rtc.name)

    agent_name = f"callcenter-test-{uuid.uuid4().hex[:6]}"
    runner = CallRunner(handler=handler, store=MemoryCheckpointStore())
    worker = AgentWorker(
        url=URL,
        api_key=KEY,
        api_secret=SECRET,
        agent_name=agent_name,
        runner=runner,
        connect_room=connect_livekit_room,
    )
    task = asyncio.create_task(worker.run())
    room = f"call-test-{uuid.uuid4().hex[:8]}"
    async with api.LiveKitAPI(URL, KEY, SECRET) as lkapi:
        try:
            await asyncio.wait_for(worker.registered.wait(), 15)
            await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=30))
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
            )
            assert await asyncio.wait_for(joined, 30) == room
        finally:
            await worker.stop()
            await runner.aclose()
            task.cancel()
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
