"""Test kit for the replay test: scripted calls on a real CallSession (fake speech, local room),
each escalation taken by a scripted supervisor, then the post-call record and learning step."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.effects import IntentService
from callcenter.callsession.recorder import CallInfo
from callcenter.config import get_settings
from callcenter.control.commands import HandBack
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.escalation import InProcessEscalationBroker, Presence, QueueEscalation, run_routing
from callcenter.flowstore import FlowStore
from callcenter.learning.embed import minilm
from callcenter.learning.store import learn_from_call
from callcenter.learning.wording import Writer
from callcenter.models import utcnow
from callcenter.postcall import pipeline
from callcenter.postcall.store import store_record
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

# One offline MiniLM matcher for every call (it caches one model per intent set).
INTENTS = IntentService()


@dataclass(frozen=True, slots=True)
class Caller:
    """One caller: what they say, in order, and what a supervisor says and does if needed."""

    says: tuple[str, ...]
    supervisor: str = "hello how can I help"
    hand_back_to: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    call_id: str
    escalated: bool
    agent_said: list[str]
    path: list[str]


def _script(caller: Caller, escalates: bool) -> CallerScript:
    turns = ["  - wait: agent_done"]
    for text in caller.says:
        turns += [f'  - say: "{text}"', "  - wait: agent_done"]
    # Virtual time runs on while the supervisor's side works on the wall-clock broker, so
    # on a loaded machine the hand-back may come many virtual minutes later: a caller who
    # escalates stays on the line (longer than the flow's escalation timeout) until the
    # agent, back from the supervisor, ends the call.
    turns += ["  - wait: 7200"] if escalates else ["  - hangup: true"]
    return CallerScript.from_yaml("voice: espeak\ntimeout: 300\nturns:\n" + "\n".join(turns)
                                  + "\n")


async def place_call(engine: Engine, flow_name: str, call_id: str, caller: Caller,
                     *, expect_escalation: bool) -> Result:
    """Run one call on the flow's published version; a supervisor answers if it escalates."""
    with Session(engine) as s:
        published = FlowStore(s).published(flow_name)
        assert published is not None
        flow, version_id = published.flow, published.version.id
    clock = VirtualClock()
    room, board, bus = LocalRoom(f"room-{call_id}", clock=clock), SpeechBoard(), \
        InProcessControlBus()
    broker = InProcessEscalationBroker()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05))
    lease = Lease(call_id=call_id, worker_id="w1", token=1)
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id=call_id, room_name=room.name,
                                 flow_version_id=version_id),
        flow=flow, stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(engine, clock=clock),
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
        escalations=QueueEscalation(broker, update_s=0.05), intents=INTENTS,
        serve_commands=lambda h: bus.serve(lease, h),
    ))
    # The supervisor's console heartbeats like a real one: a single heartbeat expires (TTL
    # 15 s of wall time) before the escalation on a loaded machine, and then nobody is staffed.
    await broker.heartbeat(Presence("sup-ada", capacity=1))

    async def console_heartbeat() -> None:
        while True:
            await asyncio.sleep(2)
            await broker.heartbeat(Presence("sup-ada", capacity=1))

    beat = asyncio.ensure_future(console_heartbeat())

    async def supervisor() -> None:
        offer = await broker.next_offer("sup-ada", timeout=60)
        if offer is None:
            return
        assert await broker.accept(offer.offer_id, "sup-ada") is not None
        while session.state.status != "escalated":
            await asyncio.sleep(0.01)
        script = CallerScript.from_yaml(
            f'voice: espeak\nturns:\n  - say: "{caller.supervisor}"\n  - wait: 1\n')
        person = ScriptedCaller(room, dataclasses.replace(script, identity="sup-ada"),
                                board=board, kind=ParticipantKind.SUPERVISOR)
        await person.run()
        await bus.send(call_id, HandBack(node=caller.hand_back_to, issued_by="sup-ada"))

    run = asyncio.ensure_future(session.run())
    sup = asyncio.ensure_future(supervisor())
    await ScriptedCaller(room, _script(caller, expect_escalation), board=board).run()
    outcome = await asyncio.wait_for(run, 30)
    if not sup.done():
        sup.cancel()
    beat.cancel()
    await asyncio.gather(sup, beat, return_exceptions=True)
    routing.cancel()
    room.close()
    await clock.aclose()
    agent = [u.text for u in session.voice.utterances if u.role == "agent"]
    return Result(call_id, outcome.state.was_escalated, agent, list(outcome.state.path))


def postcall_and_learn(engine: Engine, call_id: str, writer: Writer | None = None) -> list[int]:
    """The post-call record (redacted transcript), then the learning step, as the tasks do.

    Synchronous like the tasks: with a `writer` that talks to a fake server on the test's
    event loop, run it in a thread (`asyncio.to_thread`).
    """
    data = pipeline.load(engine, call_id)
    assert data is not None
    record, _ = pipeline.build_record(data, get_settings(), llm=None)
    store_record(engine, record, now=utcnow(), webhook_url=None)
    return learn_from_call(engine, call_id, minilm(), writer)
