"""Call-control commands reach a live CallSession through the bus and act through its flow."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.engine import Engine

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.callsession.text_channel import ScriptedEscalations
from callcenter.control.commands import Coach, HandBack, Hangup, Ping
from callcenter.control.errors import CallNotLive, CommandRejected
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.flow.schema import Flow
from callcenter.flow.validate import check_flow_text
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeLLM, FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

AGENT_FLOW = """
name: coached
start: helper
nodes:
  helper:
    type: agent
    greeting: Hello, how can I help?
    instructions: You are a helpful assistant.
    max_turns: 5
    on_max_turns: bye
  bye:
    type: hangup
    say: Goodbye.
"""

ESCALATE_FLOW = """
name: handback
start: to_human
nodes:
  to_human:
    type: escalate
    queue: support
    hold_prompt: Please hold while I connect you.
    next: wrap_up
    on_timeout: survey
  wrap_up:
    type: hangup
    say: Thanks for holding, all done.
  survey:
    type: hangup
    say: Before you go, thanks for answering our survey.
"""


def _flow(text: str) -> Flow:
    flow, problems = check_flow_text(text, "test.yaml")
    assert flow is not None, problems
    return flow



def _session(room: LocalRoom, board: SpeechBoard, clock: VirtualClock, engine: Engine,
             flow: Flow, bus: InProcessControlBus, **extra: object) -> CallSession:
    lease = Lease(call_id=f"c-{room.name}", worker_id="w1", token=1)
    return CallSession(CallSetup(
        room=room, info=CallInfo(call_id=lease.call_id, room_name=room.name),
        flow=flow, stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(engine, clock=clock),
        voice_settings=VoiceSettings(input_rate=8000), clock=clock,
        http=httpx.AsyncClient(), serve_commands=lambda h: bus.serve(lease, h),
        **extra,  # type: ignore[arg-type]
    ))


async def _until_served(bus: InProcessControlBus, call_id: str) -> None:
    for _ in range(500):
        try:
            await bus.send(call_id, Ping())
            return
        except CallNotLive:
            await asyncio.sleep(0.01)
    raise AssertionError(f"{call_id} never served commands")


async def test_coach_text_reaches_the_llm_context_never_the_caller(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    room, board, bus = LocalRoom("coach", clock=clock), SpeechBoard(), InProcessControlBus()
    llm = FakeLLM("I can offer you a credit on your next bill.", clock=clock)
    session = _session(room, board, clock, sqlite_engine, _flow(AGENT_FLOW), bus, llm=llm)
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "my bill is too high"
          - wait: agent_done
          - hangup: true
        """), board=board)
    run = asyncio.ensure_future(session.run())
    await _until_served(bus, "c-coach")
    await bus.send("c-coach", Coach(text="offer the 10% goodwill credit", by="sam",
                                    issued_by="sam"))
    with pytest.raises(CommandRejected, match="not with a supervisor"):
        await bus.send("c-coach", HandBack())
    await caller.run()
    await asyncio.wait_for(run, 10)

    system = [m.content for m in llm.requests[0] if m.role == "system"]
    assert any("goodwill credit" in c and "sam" in c for c in system), system
    spoken = " ".join(u.text for u in session.voice.utterances if u.role == "agent")
    assert "goodwill" not in spoken, "coach text is never spoken to the caller"
    with pytest.raises(CallNotLive):
        await bus.send("c-coach", Ping())  # the call ended: nobody serves it
    room.close()


async def test_hand_back_resumes_the_flow_at_the_node_the_supervisor_picks(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    room, board, bus = LocalRoom("hb", clock=clock), SpeechBoard(), InProcessControlBus()
    session = _session(room, board, clock, sqlite_engine, _flow(ESCALATE_FLOW), bus,
                       escalations=ScriptedEscalations("connected"))
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - wait: 3
          - wait: agent_done
          - hangup: true
        """), board=board)
    run = asyncio.ensure_future(session.run())
    await _until_served(bus, "c-hb")
    while session.state.status != "escalated":
        await asyncio.sleep(0.01)
    assert session.voice.listen_only, "a person has the call: the agent is quiet"
    with pytest.raises(CommandRejected, match="unknown node 'nowhere'"):
        await bus.send("c-hb", HandBack(node="nowhere"))
    await bus.send("c-hb", HandBack(node="survey", issued_by="sam"))
    await caller.run()
    outcome = await asyncio.wait_for(run, 10)

    assert outcome.state.path[-1] == "survey"
    assert not session.voice.listen_only
    spoken = [u.text for u in session.voice.utterances if u.role == "agent"]
    assert any("survey" in t for t in spoken), spoken
    room.close()


async def test_hang_up_command_ends_a_call_with_a_supervisor(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    room, board, bus = LocalRoom("hup", clock=clock), SpeechBoard(), InProcessControlBus()
    session = _session(room, board, clock, sqlite_engine, _flow(ESCALATE_FLOW), bus,
                       escalations=ScriptedEscalations("connected"))
    run = asyncio.ensure_future(session.run())
    await _until_served(bus, "c-hup")
    while session.state.status != "escalated":
        await asyncio.sleep(0.01)
    await bus.send("c-hup", Hangup(reason="resolved by supervisor", issued_by="sam"))
    outcome = await asyncio.wait_for(run, 10)
    assert outcome.state.outcome == "escalated"
    assert "supervisor ended" in (outcome.state.end_reason or "")
    room.close()
