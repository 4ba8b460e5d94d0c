"""A phone desk's report reaches the call's own timeline: the call records which phone
answered or why not (a `control_phone_ring` event with the SIP status), on a live call
session (local room, offline speech) serving its commands on the control bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.control.commands import PhoneRing
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.flow.validate import check_flow_text
from callcenter.models import CallEvent
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOW = """
name: order_line
start: ask_order
nodes:
  ask_order:
    type: ask
    slot: order
    expect: digits
    prompt: Please say your four digit order number.
    next: bye
  bye:
    type: hangup
    say: Thanks, goodbye.
"""


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    c = VirtualClock()
    yield c
    await c.aclose()


async def test_each_ring_is_an_event_on_the_call(clock: VirtualClock,
                                                 sqlite_engine: Engine) -> None:
    flow, problems = check_flow_text(FLOW, "order_line.yaml")
    assert flow is not None, problems
    room, board, bus = LocalRoom("ring", clock=clock), SpeechBoard(), InProcessControlBus()
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id="c-ring", room_name=room.name), flow=flow,
        stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(sqlite_engine, clock=clock),
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
        serve_commands=lambda h: bus.serve(Lease(call_id="c-ring", worker_id="w", token=1), h),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - hangup: true
        """), board=board)
    run = asyncio.ensure_future(session.run())
    while session.state.waiting_for != "input":
        await asyncio.sleep(0.01)
    await bus.send("c-ring", PhoneRing(issued_by="phone desk", supervisor="phone-ana",
                                       outcome="busy", sip_status=486))
    await bus.send("c-ring", PhoneRing(issued_by="phone desk", supervisor="phone-bob",
                                       outcome="answered"))
    await caller.run()
    await asyncio.wait_for(run, 20)
    with Session(sqlite_engine) as s:
        rings = [e.data for e in s.exec(select(CallEvent).where(
            CallEvent.call_id == "c-ring", CallEvent.type == "control_phone_ring"
        ).order_by(CallEvent.seq))]  # type: ignore[arg-type]
    assert rings == [
        {"supervisor": "phone-ana", "outcome": "busy", "sip_status": 486, "by": "phone desk"},
        {"supervisor": "phone-bob", "outcome": "answered", "sip_status": None,
         "by": "phone desk"},
    ]
