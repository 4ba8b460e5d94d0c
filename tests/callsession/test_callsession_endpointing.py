"""A number said in groups with pauses is one answer: the turn waits for the rest of it."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.engine import Engine

from callcenter.callsession import CallSession, CallSetup, MemoryRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.flow.validate import check_flow_text
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
    slot: order_number
    expect: digits
    pattern: '\\d{6}'
    prompt: Please say your six digit order number.
    next: bye
  bye:
    type: hangup
    say: Thanks.
"""

GROUPS = """
voice: espeak
turns:
  - wait: agent_done
  - say: "four eight"
  - wait: 1.0
  - say: "two nine"
  - wait: 1.0
  - say: "one three"
  - wait: agent_done
  - hangup: true
"""



async def test_a_number_with_two_one_second_pauses_is_one_answer(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    flow, problems = check_flow_text(FLOW, "order_line.yaml")
    assert flow is not None, problems
    room, board, recorder = LocalRoom("groups", clock=clock), SpeechBoard(), MemoryRecorder()
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id="c-groups", room_name=room.name), flow=flow,
        stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock), recorder=recorder,
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml(GROUPS), board=board)
    run = asyncio.ensure_future(session.run())
    await caller.run()
    outcome = await asyncio.wait_for(run, 10)

    assert outcome.state.slots.get("order_number") == "482913", outcome.state.slots
    inputs = [data for _, kind, data in recorder.events if kind == "caller_input"]
    assert len(inputs) == 1, f"the caller was cut off mid-number: {inputs}"
    room.close()
