"""The AI's suggestions to the supervisor while it listens: the hand-back step, a knowledge
answer to what the caller just said, a fact the caller already gave. Unit tests of the
pure suggester, and a local-room call where they reach the room's data topic and the record."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.effects import IntentService
from callcenter.callsession.recorder import CallInfo
from callcenter.control.commands import HandBack
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.escalation import InProcessEscalationBroker, Presence, QueueEscalation, run_routing
from callcenter.escalation.suggestions import SUGGESTION_TOPIC, Suggester
from callcenter.flow.schema import Flow
from callcenter.flow.validate import check_flow_text
from callcenter.models import CallEvent
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOW = """
name: refund_line
start: ask_account
nodes:
  ask_account:
    type: ask
    slot: account_number
    expect: digits
    prompt: Please say your four digit account number.
    next: to_human
  to_human:
    type: escalate
    queue: billing
    reason: Caller wants a refund.
    hold_prompt: Please hold while I connect you.
    position_every: 3600
    timeout: 60
    next: wrap_up
    on_timeout: help
  wrap_up:
    type: say
    description: Refunds over fifty dollars need a manager's approval.
    text: Thanks, account {{account_number}}, your refund is on its way.
    next: bye
  help:
    type: agent
    instructions: Answer refund questions.
    use_llm: false
    knowledge:
      - q: how long does a refund take
        a: Refunds reach your card within five business days.
    on_done: bye
  bye:
    type: hangup
    say: Goodbye.
"""
CALL_ID = "c-suggest"


def _flow() -> Flow:
    flow, problems = check_flow_text(FLOW, "refund_line.yaml")
    assert flow is not None, problems
    return flow


def test_on_connect_says_where_hand_back_goes_with_its_words_and_note():
    [s] = Suggester(_flow(), "to_human").on_connect({"account_number": "4821"})
    assert s.kind == "next_step" and s.source == "wrap_up"
    assert "account 4821, your refund is on its way" in s.text
    assert "fifty dollars need a manager" in s.text


def test_a_supervisor_asking_for_a_slot_already_given_gets_the_value_once():
    sugg = Suggester(_flow(), "to_human")
    slots = {"account_number": "4821", "more": None}
    [s] = sugg.on_supervisor_line("could you confirm your account number please", slots)
    assert (s.kind, s.source) == ("fact", "account_number") and "4821" in s.text
    assert sugg.on_supervisor_line("and the account number again?", slots) == []  # said once
    assert sugg.on_supervisor_line("how are you today", slots) == []


def test_a_caller_question_is_matched_against_the_flows_knowledge():
    sugg = Suggester(_flow(), "to_human")
    action = sugg.classify_action("so how long does a refund take then")
    assert action is not None
    result = IntentService(prefer_minilm=False).classify(action)
    [s] = sugg.on_answer_match(result.intent, result.confidence, {})
    assert s.kind == "answer" and "five business days" in s.text
    assert sugg.classify_action("ok") is None  # too short to mean anything
    assert sugg.on_answer_match(None, 0.0, {}) == []


@pytest.fixture
async def clock() -> VirtualClock:
    c = VirtualClock()
    yield c  # type: ignore[misc]
    await c.aclose()


def _suggestions(room: LocalRoom) -> list[dict[str, object]]:
    return [json.loads(text) for _who, topic, text, _to in room.messages
            if topic == SUGGESTION_TOPIC]


async def test_suggestions_reach_the_room_and_the_record_while_a_supervisor_has_the_call(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    room, board, bus = LocalRoom("sugg", clock=clock), SpeechBoard(), InProcessControlBus()
    broker = InProcessEscalationBroker()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05))
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id=CALL_ID, room_name=room.name),
        flow=_flow(), stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(sqlite_engine, clock=clock), intents=IntentService(
            prefer_minilm=False),
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
        escalations=QueueEscalation(broker, update_s=0.05),
        serve_commands=lambda h: bus.serve(Lease(call_id=CALL_ID, worker_id="w", token=1), h),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "four eight two one"
          - wait: 8
          - say: "how long does a refund take"
          - wait: 6
          - wait: agent_done
          - hangup: true
        """), board=board)
    await broker.heartbeat(Presence("sup-ada"))

    async def supervisor() -> None:
        offer = await broker.next_offer("sup-ada", timeout=30)
        assert offer is not None
        assert await broker.accept(offer.offer_id, "sup-ada") is not None
        while session.state.status != "escalated":
            await asyncio.sleep(0.01)
        script = CallerScript.from_yaml("""
            voice: espeak
            turns:
              - say: "hello this is ada can you confirm your account number"
              - wait: 8
            """)
        await ScriptedCaller(room, dataclasses.replace(script, identity="sup-ada"),
                             board=board, kind=ParticipantKind.SUPERVISOR).run()
        await bus.send(CALL_ID, HandBack(issued_by="sup-ada"))

    run = asyncio.ensure_future(session.run())
    sup = asyncio.ensure_future(supervisor())
    await caller.run()
    await asyncio.wait_for(run, 30)
    await sup
    routing.cancel()

    sent = _suggestions(room)
    kinds = [s["kind"] for s in sent]
    assert kinds[0] == "next_step", sent  # with the brief, before anyone spoke
    assert "fact" in kinds and "answer" in kinds, sent
    fact = next(s for s in sent if s["kind"] == "fact")
    assert "4821" in str(fact["text"])
    answer = next(s for s in sent if s["kind"] == "answer")
    assert "five business days" in str(answer["text"])
    with Session(sqlite_engine) as s:
        kept = [e.data for e in s.exec(select(CallEvent).where(
            CallEvent.call_id == CALL_ID, CallEvent.type == "suggestion"))]
    assert [k["kind"] for k in kept] == kinds, "every suggestion is kept on the call"
    agent = " ".join(u.text for u in session.voice.utterances if u.role == "agent")
    assert "five business days" not in agent, "suggestions go to the supervisor, not the caller"
    room.close()
