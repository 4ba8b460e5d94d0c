"""Escalation end to end on a local room: queue, a scripted supervisor takes the call, talks,
coaches, hands back; the AI resumes without asking again; everyone is in the transcript."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.control.commands import Coach, HandBack
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.escalation import (
    InProcessEscalationBroker,
    Presence,
    QueueEscalation,
    SupervisorStatus,
    run_routing,
)
from callcenter.flow.validate import check_flow_text
from callcenter.models import CallEvent, Escalation, Utterance
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOW = """
name: billing_line
start: ask_account
nodes:
  ask_account:
    type: ask
    slot: account
    expect: digits
    prompt: Please say your four digit account number.
    next: to_human
  to_human:
    type: escalate
    queue: billing
    reason: Caller disputes a charge.
    hold_prompt: Please hold while I connect you.
    position_every: 5
    timeout: 60
    next: ask_account_again
    on_timeout: bye
  ask_account_again:
    type: ask
    slot: account
    expect: digits
    prompt: Please say your four digit account number.
    next: anything_else
  anything_else:
    type: ask
    slot: more
    expect: yes_no
    prompt: Is there anything else I can help with today?
    next: bye
  bye:
    type: hangup
    say: Thanks for calling, goodbye.
"""

CALL_ID = "c-esc"



async def test_supervisor_takes_talks_coaches_and_hands_back_and_ai_does_not_ask_again(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    flow, problems = check_flow_text(FLOW, "billing_line.yaml")
    assert flow is not None, problems
    room, board, bus = LocalRoom("esc", clock=clock), SpeechBoard(), InProcessControlBus()
    broker = InProcessEscalationBroker()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05))
    lease = Lease(call_id=CALL_ID, worker_id="w1", token=1)
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id=CALL_ID, room_name=room.name),
        flow=flow, stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(sqlite_engine, clock=clock),
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
        escalations=QueueEscalation(broker, update_s=0.05),
        serve_commands=lambda h: bus.serve(lease, h),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "one two three four"
          - wait: 10
          - wait: agent_done
          - say: "no thanks"
          - wait: agent_done
          - hangup: true
        """), board=board)
    await broker.heartbeat(Presence("sup-ada", capacity=1))

    async def supervisor() -> None:
        offer = await broker.next_offer("sup-ada", timeout=30)
        assert offer is not None, "the waiting call is offered to the free supervisor"
        assert await broker.accept(offer.offer_id, "sup-ada") is not None
        while session.state.status != "escalated":
            await asyncio.sleep(0.01)
        script = CallerScript.from_yaml("""
            voice: espeak
            turns:
              - say: "hello this is ada from billing I have removed the late fee"
              - wait: 2
            """)
        person = ScriptedCaller(room, dataclasses.replace(script, identity="sup-ada"),
                                board=board, kind=ParticipantKind.SUPERVISOR)
        await person.run()
        await bus.send(CALL_ID, Coach(text="say the late fee refund takes five days",
                                      by="sup-ada", issued_by="sup-ada"))
        await bus.send(CALL_ID, HandBack(issued_by="sup-ada"))

    run = asyncio.ensure_future(session.run())
    sup = asyncio.ensure_future(supervisor())
    await caller.run()
    outcome = await asyncio.wait_for(run, 20)
    await sup
    routing.cancel()

    assert outcome.state.slots["account"] == "1234"
    assert outcome.state.path[-2:] == ["anything_else", "bye"]
    agent = [u.text for u in session.voice.utterances if u.role == "agent"]
    assert sum("account number" in t for t in agent) == 1, f"asked again after hand-back: {agent}"
    assert not any("five days" in t for t in agent), "coach text never reaches the caller"
    assert any("hold" in t for t in agent)

    with Session(sqlite_engine) as s:
        rows = s.exec(select(Utterance).where(Utterance.call_id == CALL_ID)).all()
        events = [e.type for e in s.exec(select(CallEvent).where(CallEvent.call_id == CALL_ID))]
        esc = s.exec(select(Escalation).where(Escalation.call_id == CALL_ID)).one()
    assert (esc.status, esc.supervisor, esc.queue) == ("handed_back", "sup-ada", "billing")
    assert esc.answered_at is not None and esc.returned_at is not None
    assert esc.requested_at <= esc.answered_at <= esc.returned_at
    roles = {r.speaker_role for r in rows}
    assert {"caller", "agent", "supervisor"} <= roles, roles
    said = " ".join(r.text for r in rows if r.speaker_role == "supervisor")
    assert "late fee" in said, "the supervisor's words are transcribed into the call"
    assert {"handoff_brief", "control_coach", "control_hand_back"} <= set(events), events
    status = await broker.status(CALL_ID)
    assert status is not None and status.state == "ended", "the supervisor is free again"
    room.close()


async def test_waiting_caller_hears_place_in_line_and_hanging_up_abandons_the_ticket(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    flow, problems = check_flow_text(FLOW, "billing_line.yaml")
    assert flow is not None, problems
    room, board = LocalRoom("wait", clock=clock), SpeechBoard()
    broker = InProcessEscalationBroker()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05))
    # Staffed but busy: the call must wait in line.
    await broker.heartbeat(Presence("sup-bob", status=SupervisorStatus.BUSY))
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id="c-wait", room_name=room.name),
        flow=flow, stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(sqlite_engine, clock=clock),
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
        escalations=QueueEscalation(broker, update_s=0.05),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "one two three four"
          - wait: 12
          - hangup: true
        """), board=board)
    run = asyncio.ensure_future(session.run())
    await caller.run()
    outcome = await asyncio.wait_for(run, 20)
    routing.cancel()

    agent = [u.text for u in session.voice.utterances if u.role == "agent"]
    assert any("next in line" in t for t in agent), agent
    status = await broker.status("c-wait")
    assert status is not None and status.state == "abandoned"
    assert outcome.state.outcome != "escalated" and not outcome.state.was_escalated
    with Session(sqlite_engine) as s:
        esc = s.exec(select(Escalation).where(Escalation.call_id == "c-wait")).one()
    assert esc.status == "abandoned" and esc.answered_at is None and esc.ended_at is not None
    room.close()


async def test_a_call_resumed_while_a_supervisor_has_it_stays_quiet_and_can_be_handed_back(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    from typing import Any

    from callcenter.callsession.session import RECOVERY_LINE
    from callcenter.callsession.text_channel import ScriptedEscalations

    flow, problems = check_flow_text(FLOW, "billing_line.yaml")
    assert flow is not None, problems
    room, board, bus = LocalRoom("resume-esc", clock=clock), SpeechBoard(), InProcessControlBus()
    checkpoints: list[dict[str, Any]] = []

    async def save(data: dict[str, Any]) -> None:
        checkpoints.append(data)

    def setup(resume: dict[str, Any] | None, token: int) -> CallSetup:
        lease = Lease(call_id="c-resume-esc", worker_id=f"w{token}", token=token)
        return CallSetup(
            room=room, info=CallInfo(call_id="c-resume-esc", room_name=room.name), flow=flow,
            stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
            recorder=SqlRecorder(sqlite_engine, clock=clock),
            voice_settings=VoiceSettings(input_rate=8000), clock=clock,
            http=httpx.AsyncClient(), escalations=ScriptedEscalations("connected"),
            checkpoint=save, resume=resume, serve_commands=lambda h: bus.serve(lease, h),
        )

    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "one two three four"
          - wait: 12
          - wait: agent_done
          - say: "no thanks"
          - wait: agent_done
          - hangup: true
        """), board=board)
    playing = asyncio.ensure_future(caller.run())
    first = CallSession(setup(None, 1))
    running = asyncio.ensure_future(first.run())
    while first.state.status != "escalated":
        await asyncio.sleep(0.01)
    running.cancel()  # the worker dies while the supervisor has the call
    with pytest.raises(asyncio.CancelledError):
        await running

    second = CallSession(setup(checkpoints[-1], 2))
    resumed = asyncio.ensure_future(second.run())
    while second.state.status != "escalated" or not second.voice.listen_only:
        await asyncio.sleep(0.01)
    await bus.send("c-resume-esc", HandBack(issued_by="sup-ada"))
    outcome = await asyncio.wait_for(resumed, 20)
    await playing

    agent = [u.text for u in second.voice.utterances if u.role == "agent"]
    assert RECOVERY_LINE not in agent, "no recovery line over the supervisor's conversation"
    assert outcome.state.path[-2:] == ["anything_else", "bye"]
    room.close()
