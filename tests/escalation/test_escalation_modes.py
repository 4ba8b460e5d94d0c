"""Supervisor modes on a live call: monitor any call silently (the AI stays in charge, the
call records who listened), join a call a person has or take over one the AI has alone; on
LiveKit the monitor's token can subscribe but never publish, and is hidden."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from livekit import api
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.control.commands import JoinSupervisor, Monitor
from callcenter.control.errors import CommandRejected
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.escalation.livekit_join import monitor_token
from callcenter.escalation.modes import join_answer, monitor_answer
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import check_flow_text
from callcenter.models import CallEvent
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

SECRET = "a-secret-of-at-least-32-characters!!"
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


def _state(**kw: object) -> RunnerState:
    return RunnerState(flow_name="f", node="n", **kw)  # type: ignore[arg-type]


def test_join_takes_over_an_ai_call_and_is_refused_with_the_way_in_otherwise():
    join = JoinSupervisor(identity="sup-bob", issued_by="sup-bob")
    barge = join_answer("c", "room", _state(status="waiting", waiting_for="input"), join)
    assert barge.data["mode"] == "take_over" and barge.data["node"] == "n"
    with pytest.raises(CommandRejected, match="not started"):
        join_answer("c", "room", _state(status="new"), join)
    with pytest.raises(CommandRejected, match="has ended"):
        join_answer("c", "room", _state(status="ended"), join)
    with pytest.raises(CommandRejected, match="take it from the queue"):
        join_answer("c", "room", _state(status="waiting", waiting_for="escalation"), join)
    with pytest.raises(CommandRejected, match="phone number"):
        join_answer("c", "room", _state(status="escalated"),
                    JoinSupervisor(identity="sup-bob", via="phone"))
    ok = join_answer("c", "room", _state(status="escalated"), join)
    assert ok.data["mode"] == "join" and ok.data["room"] == "room"


def test_monitor_answers_any_live_call_and_says_who_is_in_charge():
    assert monitor_answer("c", "r", _state(status="waiting")).data["ai_in_charge"] is True
    assert monitor_answer("c", "r", _state(status="escalated")).data["ai_in_charge"] is False
    with pytest.raises(CommandRejected, match="ended"):
        monitor_answer("c", "r", _state(status="ended"))


def test_monitor_token_subscribes_only_and_is_hidden_in_one_room():
    jwt = monitor_token("devkey", SECRET, room="call-9", identity="mon-ada")
    claims = api.TokenVerifier("devkey", SECRET).verify(jwt)
    v = claims.video
    assert v is not None and v.room_join and v.room == "call-9"
    assert v.can_subscribe and v.hidden
    # No track to subscribe to: the caller can never hear an observer.
    assert v.can_publish is False and v.can_publish_data is False
    assert not v.room_admin and not v.room_list
    assert claims.attributes == {"callcenter.role": "monitor"}


@pytest.fixture
async def clock() -> VirtualClock:
    c = VirtualClock()
    yield c  # type: ignore[misc]
    await c.aclose()


async def test_monitoring_a_live_ai_call_changes_nothing_and_is_audited(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    flow, problems = check_flow_text(FLOW, "order_line.yaml")
    assert flow is not None, problems
    room, board, bus = LocalRoom("mon", clock=clock), SpeechBoard(), InProcessControlBus()
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id="c-mon", room_name=room.name), flow=flow,
        stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(sqlite_engine, clock=clock),
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
        serve_commands=lambda h: bus.serve(Lease(call_id="c-mon", worker_id="w", token=1), h),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - wait: 1
          - say: "five five six one"
          - wait: agent_done
          - hangup: true
        """), board=board)
    run = asyncio.ensure_future(session.run())
    while session.state.waiting_for != "input":
        await asyncio.sleep(0.01)
    watched = await bus.send("c-mon", Monitor(identity="mon-ada", issued_by="mon-ada"))
    assert watched.data["mode"] == "monitor" and watched.data["ai_in_charge"] is True
    assert watched.data["room"] == "mon" and watched.data["node"] == "ask_order"
    # (Joining would take the call over: tests/callsession/test_callsession_take_over.py.)
    await caller.run()
    outcome = await asyncio.wait_for(run, 20)
    assert outcome.state.slots["order"] == "5561", "the AI went on with the call"
    with Session(sqlite_engine) as s:
        audit = [(e.type, e.data) for e in s.exec(select(CallEvent).where(
            CallEvent.call_id == "c-mon")) if e.type.startswith("control_")]
    assert audit == [("control_monitor", {"identity": "mon-ada", "by": "mon-ada"})]
    room.close()
