"""A supervisor monitors a call the AI has alone, takes it over mid-question, talks (and is
transcribed as the supervisor), hands back; the AI re-asks only what is unanswered and
finishes. The stored call has the escalation row, the audit events and the disposition.
A worker dying mid-take-over: the new session resumes the call supervised."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from callcenter.callsession import CallSession, CallSetup, MemoryRecorder, SqlRecorder
from callcenter.callsession.interpreter import TAKE_OVER_QUEUE
from callcenter.callsession.recorder import CallInfo
from callcenter.config import load_settings
from callcenter.control.commands import HandBack, JoinSupervisor, Monitor, TakeOver
from callcenter.control.errors import CommandRejected
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.flow.validate import check_flow_text
from callcenter.models import CallEvent, Escalation, Utterance
from callcenter.postcall import pipeline
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOW = """
name: account_line
start: ask_account
nodes:
  ask_account:
    type: ask
    slot: account
    expect: digits
    prompt: Please say your four digit account number.
    next: ask_zip
  ask_zip:
    type: ask
    slot: zip
    expect: digits
    prompt: Now please say your five digit zip code.
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
CALL_ID = "c-take"



async def test_supervisor_takes_over_an_ai_call_talks_and_hands_back(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    flow, problems = check_flow_text(FLOW, "account_line.yaml")
    assert flow is not None, problems
    room, board, bus = LocalRoom("take", clock=clock), SpeechBoard(), InProcessControlBus()
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id=CALL_ID, room_name=room.name),
        flow=flow, stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(sqlite_engine, clock=clock),
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
        serve_commands=lambda h: bus.serve(Lease(call_id=CALL_ID, worker_id="w", token=1), h),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "one two three four"
          - wait: 14
          - wait: agent_done
          - say: "nine zero two one zero"
          - wait: agent_done
          - say: "no thanks"
          - wait: agent_done
          - hangup: true
        """), board=board)

    async def supervisor() -> None:
        while session.state.node != "ask_zip":
            await asyncio.sleep(0.01)
        watched = await bus.send(CALL_ID, Monitor(identity="sup-ada", issued_by="sup-ada"))
        assert watched.data["ai_in_charge"] is True
        # The zip question is being asked: the supervisor barges in.
        taken = await bus.send(CALL_ID, JoinSupervisor(identity="sup-ada", issued_by="sup-ada"))
        assert taken.data["mode"] == "take_over" and taken.data["room"] == "take"
        # A second supervisor barging at the same moment does not get the call too.
        with pytest.raises(CommandRejected, match=r"another supervisor|has this call already"):
            await bus.send(CALL_ID, TakeOver(identity="sup-bob", issued_by="sup-bob"))
        while session.state.status != "escalated":
            await asyncio.sleep(0.01)
        with pytest.raises(CommandRejected, match="has this call already"):
            await bus.send(CALL_ID, TakeOver(identity="sup-bob", issued_by="sup-bob"))
        script = CallerScript.from_yaml("""
            voice: espeak
            turns:
              - say: "hello this is ada from billing I can see your account"
              - wait: 2
            """)
        person = ScriptedCaller(room, dataclasses.replace(script, identity="sup-ada"),
                                board=board, kind=ParticipantKind.SUPERVISOR)
        await person.run()
        await bus.send(CALL_ID, HandBack(issued_by="sup-ada"))

    run = asyncio.ensure_future(session.run())
    sup = asyncio.ensure_future(supervisor())
    await caller.run()
    outcome = await asyncio.wait_for(run, 30)
    await sup

    assert outcome.state.slots == {"account": "1234", "zip": "90210", "more": False}
    assert outcome.state.path[-3:] == ["ask_zip", "anything_else", "bye"]
    assert outcome.state.outcome == "completed" and outcome.state.was_escalated
    agent = [u.text for u in session.voice.utterances if u.role == "agent"]
    assert sum("account number" in t for t in agent) == 1, f"asked again: {agent}"
    first_zip = next(i for i, t in enumerate(agent) if "zip code" in t)
    assert any("zip code" in t for t in agent[first_zip + 1:]), (
        f"the unanswered zip question is asked again after the hand-back: {agent}")

    with Session(sqlite_engine) as s:
        rows = s.exec(select(Utterance).where(Utterance.call_id == CALL_ID)).all()
        events = [(e.type, e.data) for e in s.exec(
            select(CallEvent).where(CallEvent.call_id == CALL_ID).order_by(col(CallEvent.seq)))]
        esc = s.exec(select(Escalation).where(Escalation.call_id == CALL_ID)).one()
    assert (esc.queue, esc.status, esc.supervisor) == (TAKE_OVER_QUEUE, "handed_back", "sup-ada")
    assert esc.answered_at is not None and esc.returned_at is not None
    assert esc.requested_at <= esc.answered_at <= esc.returned_at
    types = [t for t, _ in events]
    took, back = types.index("control_take_over"), types.index("control_hand_back")
    assert types.index("control_monitor") < took < back
    assert took < types.index("taken_over") < back and took < types.index("handoff_brief") < back
    audits = [d for t, d in events if t == "control_take_over"]
    assert audits == [{"identity": "sup-ada", "node": "ask_zip", "by": "sup-ada"}]
    said = " ".join(r.text for r in rows if r.speaker_role == "supervisor")
    assert "your account" in said, "the supervisor's words are transcribed into the call"

    data = pipeline.load(sqlite_engine, CALL_ID)
    assert data is not None
    rec = pipeline.build_record(data, load_settings(keep_raw_transcript=True))[0]
    assert rec.disposition == "resolved_after_handback", rec.summary
    room.close()


async def test_a_worker_dies_mid_take_over_the_call_resumes_supervised_and_hands_back(
    clock: VirtualClock,
) -> None:
    flow, problems = check_flow_text(FLOW, "account_line.yaml")
    assert flow is not None, problems
    room, board, bus = LocalRoom("take-fail", clock=clock), SpeechBoard(), InProcessControlBus()
    checkpoints: list[dict[str, Any]] = []
    recorder = MemoryRecorder()

    def setup(resume: dict[str, Any] | None, token: int) -> CallSetup:
        async def save(data: dict[str, Any]) -> None:
            checkpoints.append(data)

        return CallSetup(
            room=room, info=CallInfo("c-fail", room.name), flow=flow,
            stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock), recorder=recorder,
            voice_settings=VoiceSettings(input_rate=8000), clock=clock, checkpoint=save,
            resume=resume, http=httpx.AsyncClient(),
            serve_commands=lambda h: bus.serve(
                Lease(call_id="c-fail", worker_id=f"w{token}", token=token), h))

    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "one two three four"
          - wait: 20
          - wait: agent_done
          - say: "nine zero two one zero"
          - wait: agent_done
          - say: "no"
          - wait: agent_done
          - hangup: true
        """), board=board)
    first = CallSession(setup(None, 1))
    running = asyncio.ensure_future(first.run())
    playing = asyncio.ensure_future(caller.run())
    while first.state.node != "ask_zip":
        await clock.sleep(0.05)
    await bus.send("c-fail", TakeOver(identity="sup-ada", issued_by="sup-ada"))
    while not any(c["state"]["status"] == "escalated" for c in checkpoints):
        await clock.sleep(0.05)
    running.cancel()  # the worker dies while the supervisor has the call
    with contextlib.suppress(asyncio.CancelledError):
        await running

    second = CallSession(setup(checkpoints[-1], 2))
    resumed = asyncio.ensure_future(second.run())
    while second.state.status != "escalated":
        await clock.sleep(0.05)
    assert second.state.taken_over_at == "ask_zip"
    await clock.sleep(2.0)
    await bus.send("c-fail", HandBack(issued_by="sup-ada"))
    outcome = await asyncio.wait_for(resumed, 30)
    await playing

    assert outcome.state.slots == {"account": "1234", "zip": "90210", "more": False}
    agent = [u.text for _, u in recorder.utterances if u.role == "agent"]
    assert sum("account number" in t for t in agent) == 1, agent
    assert recorder.escalations[0][3] == "active" and recorder.escalations[-1][3] == (
        "handed_back"), recorder.escalations
    assert recorder.escalations[0][0] == TAKE_OVER_QUEUE
    room.close()
