"""LocalRoom transfers the way SIP REFER does: the caller's leg leaves for the target."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from callcenter.flow.validate import load_flow_file
from callcenter.rooms.base import ParticipantKind, ParticipantLeft, RoomEvent, TransferFailed
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.local_call import run_local_call
from callcenter.testing.script import CallerScript

FLOWS = Path(__file__).resolve().parents[2] / "flows"



async def test_transfer_records_the_target_and_ends_the_callers_media(
    clock: VirtualClock,
) -> None:
    room = LocalRoom("call-t", clock=clock)
    seen: list[RoomEvent] = []
    room.on_event(seen.append)
    caller = room.join("caller", ParticipantKind.CALLER)
    supervisor = room.join("sup", ParticipantKind.SUPERVISOR)
    stream = room.audio_stream("caller", 16000)
    await room.transfer("+15555550100")
    assert room.transferred_to == "+15555550100"
    assert not caller.present and supervisor.present
    assert [e.participant.identity for e in seen if isinstance(e, ParticipantLeft)] == ["caller"]

    async def drain() -> int:
        return len([f async for f in stream])

    await asyncio.wait_for(drain(), 1.0)  # the caller's audio stream has ended
    room.close()


async def test_a_refused_or_impossible_transfer_is_transfer_failed(clock: VirtualClock) -> None:
    room = LocalRoom("call-r", clock=clock)
    with pytest.raises(TransferFailed, match="no caller"):
        await room.transfer("+15555550100")
    caller = room.join("caller")
    room.refuse_transfers = TransferFailed("+15555550100", "486 Busy Here", 486)
    with pytest.raises(TransferFailed) as info:
        await room.transfer("+15555550100")
    assert info.value.sip_status == 486 and caller.present and room.transferred_to is None
    room.close()


async def test_a_scripted_call_reaches_the_flows_transfer_node() -> None:
    flow = load_flow_file(FLOWS / "after_hours.yaml")
    script = CallerScript.from_yaml("turns:\n  - wait: agent_done\n  - wait: 5\n")
    result = await run_local_call(
        flow, script, speech="fake",
        started_at=dt.datetime.fromisoformat("2026-11-24T15:00:00+00:00"),  # office open
    )
    assert result.transferred_to == "sip:frontdesk@pbx.example.com"
    assert result.outcome == "transferred", result.to_json()
    assert "to_office" in result.nodes
