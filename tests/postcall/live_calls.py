"""Real calls for post-call tests: CallSessions on local rooms with fake speech on a virtual
clock, recorded to SQLite by the SqlRecorder, then processed by the post-call pipeline."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.config import load_settings
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
from callcenter.flow.schema import Flow
from callcenter.flow.validate import check_flow_text, load_flow_file
from callcenter.postcall import pipeline
from callcenter.postcall.store import PostcallRecord
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.local_call import run_local_call
from callcenter.testing.script import CallerScript
from callcenter.testing.webhook_fixtures import WebhookFixtures
from callcenter.voice import VoiceSettings

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
CALLERS = FLOWS / "callers"
WEEKDAY_MORNING = dt.datetime.fromisoformat("2026-11-24T15:00:00+00:00")
FRIDAY_NIGHT = dt.datetime.fromisoformat("2026-11-28T03:00:00+00:00")

BILLING_FLOW = """
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
    next: anything_else
    on_timeout: bye
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


def record(engine: Engine, call_id: str, **settings: Any) -> PostcallRecord:
    """Run the post-call pipeline (offline, no LLM) on a stored call."""
    data = pipeline.load(engine, call_id)
    assert data is not None, call_id
    values: dict[str, Any] = {"keep_raw_transcript": True, **settings}
    return pipeline.build_record(data, load_settings(**values))[0]


async def example_call(engine: Engine, flow: str, at: dt.datetime) -> str:
    """One example flow with its own caller script; returns the call id."""
    return await scripted_call(engine, load_flow_file(FLOWS / f"{flow}.yaml"),
                               CallerScript.from_file(CALLERS / f"{flow}.yaml"), at)


async def scripted_call(engine: Engine, flow: Flow, script: CallerScript,
                        at: dt.datetime = WEEKDAY_MORNING) -> str:
    http = httpx.AsyncClient(transport=WebhookFixtures(CALLERS / "webhooks.yaml"))
    try:
        result = await run_local_call(flow, script, speech="fake", engine=engine,
                                      started_at=at, http=http)
    finally:
        await http.aclose()
    assert result.caller_error is None, result.caller_error
    return result.call_id


def _billing_flow() -> Flow:
    flow, problems = check_flow_text(BILLING_FLOW, "billing_line.yaml")
    assert flow is not None, problems
    return flow


async def handed_back_call(engine: Engine, call_id: str = "c-handback") -> str:
    """The caller gives an account number and is escalated; Ada takes the call, talks,
    coaches the AI and hands back; the AI asks if there is anything else and says goodbye."""
    clock = VirtualClock()
    room, board, bus = LocalRoom("pc-esc", clock=clock), SpeechBoard(), InProcessControlBus()
    broker = InProcessEscalationBroker()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05))
    lease = Lease(call_id=call_id, worker_id="w1", token=1)
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id=call_id, room_name=room.name),
        flow=_billing_flow(), stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(engine, clock=clock), voice_settings=VoiceSettings(input_rate=8000),
        clock=clock, http=httpx.AsyncClient(),
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
    await broker.heartbeat(Presence("Ada", capacity=1))

    async def supervisor() -> None:
        offer = await broker.next_offer("Ada", timeout=30)
        assert offer is not None and await broker.accept(offer.offer_id, "Ada") is not None
        while session.state.status != "escalated":
            await asyncio.sleep(0.01)
        script = CallerScript.from_yaml("""
            voice: espeak
            turns:
              - say: "hello this is Ada from billing, I have removed the late fee"
              - wait: 2
            """)
        person = ScriptedCaller(room, dataclasses.replace(script, identity="Ada"),
                                board=board, kind=ParticipantKind.SUPERVISOR)
        await person.run()
        await bus.send(call_id, Coach(text="the refund takes five days", by="Ada",
                                      issued_by="Ada"))
        await bus.send(call_id, HandBack(issued_by="Ada"))

    run = asyncio.ensure_future(session.run())
    sup = asyncio.ensure_future(supervisor())
    try:
        await caller.run()
        await asyncio.wait_for(run, 20)
        await sup
    finally:
        routing.cancel()
        room.close()
        await clock.aclose()
    return call_id


async def abandoned_in_queue_call(engine: Engine, call_id: str = "c-queue") -> str:
    """Staffed but busy: the caller waits in the queue, then hangs up."""
    clock = VirtualClock()
    room, board = LocalRoom("pc-wait", clock=clock), SpeechBoard()
    broker = InProcessEscalationBroker()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05))
    await broker.heartbeat(Presence("Bob", status=SupervisorStatus.BUSY))
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id=call_id, room_name=room.name),
        flow=_billing_flow(), stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(engine, clock=clock), voice_settings=VoiceSettings(input_rate=8000),
        clock=clock, http=httpx.AsyncClient(),
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
    try:
        await caller.run()
        await asyncio.wait_for(run, 20)
    finally:
        routing.cancel()
        room.close()
        await clock.aclose()
    return call_id
