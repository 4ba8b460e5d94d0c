"""Supervisor-only data (the hand-off brief, the AI's suggestions, coaching) never reaches
the caller: it is addressed to the staff in the room, in a local room and on the LiveKit
wire (the SDK's FFI request carries `destination_identities`), and a console that joins
after it was sent reads it from the call's stored events instead."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from livekit import rtc
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2 as proto_ffi
from livekit.rtc._proto import participant_pb2 as pp
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import BRIEF_TOPIC
from callcenter.callsession.recorder import CallInfo
from callcenter.callsession.voice_channel import VoiceChannel
from callcenter.control.commands import Coach, HandBack
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.escalation import InProcessEscalationBroker, Presence, QueueEscalation, run_routing
from callcenter.escalation.suggestions import SUGGESTION_TOPIC
from callcenter.records.live import FeedCursor, read_feed
from callcenter.rooms.base import ROLE_ATTRIBUTE, ParticipantKind
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.livekit import LiveKitRoom
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings
from tests.escalation.test_escalation_suggestions import _flow

PRIVATE = (BRIEF_TOPIC, SUGGESTION_TOPIC)
COACH_TEXT = "offer the ten percent goodwill credit"
CALL_ID = "c-address"


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    c = VirtualClock()
    yield c
    await c.aclose()


class Inbox:
    """What one participant received (its `on_text`)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []

    def __call__(self, sender: str, topic: str, text: str) -> None:
        self.got.append((topic, text))

    def topics(self) -> list[str]:
        return [t for t, _ in self.got]


def _channel(room: Any, callers: set[str]) -> VoiceChannel:
    # send_data needs only the room and who the callers are (no voice session).
    return VoiceChannel(None, room, callers.__contains__)  # type: ignore[arg-type]


async def test_a_local_room_hands_supervisor_data_to_staff_only(clock: VirtualClock) -> None:
    room = LocalRoom("addr", clock=clock)
    caller, sup, monitor, other = Inbox(), Inbox(), Inbox(), Inbox()
    room.join("caller-1", ParticipantKind.CALLER, on_text=caller)
    room.join("sup-1", ParticipantKind.SUPERVISOR, on_text=sup)
    room.join("monitor:sup-2", ParticipantKind.OTHER, on_text=monitor,
              attributes={ROLE_ATTRIBUTE: "monitor"})
    room.join("guest", ParticipantKind.OTHER, on_text=other)  # e.g. a browser caller
    tapped: list[tuple[str, tuple[str, ...] | None]] = []
    room.tap_text(lambda _s, topic, _t, to: tapped.append((topic, to)))
    await _channel(room, {"caller-1"}).send_data(BRIEF_TOPIC, {"reason": "refund"})
    assert sup.topics() == [BRIEF_TOPIC] and monitor.topics() == [BRIEF_TOPIC]
    assert caller.got == [] and other.got == [], "the caller's side gets nothing"
    assert tapped == [(BRIEF_TOPIC, ("sup-1", "monitor:sup-2"))]  # the host sees it all
    room.close()


async def test_with_no_staff_in_the_room_a_message_reaches_nobody(clock: VirtualClock) -> None:
    room = LocalRoom("addr2", clock=clock)
    caller = Inbox()
    room.join("caller-1", ParticipantKind.CALLER, on_text=caller)
    tapped: list[str] = []
    room.tap_text(lambda _s, topic, _t, _to: tapped.append(topic))
    await _channel(room, {"caller-1"}).send_data(SUGGESTION_TOPIC, {"text": "x"})
    await room.send_text("direct", topic="t", to=[])
    assert caller.got == [], "an empty recipient list is nobody, never everyone"
    assert tapped == [SUGGESTION_TOPIC, "t"]
    room.close()


# ------------------------------------------------------------------ LiveKit, at the FFI


def _remote(identity: str, kind: int, **attrs: str) -> rtc.RemoteParticipant:
    owned = pp.OwnedParticipant()
    owned.info.identity, owned.info.kind = identity, kind  # type: ignore[assignment]
    owned.info.attributes.update(attrs)
    return rtc.RemoteParticipant(owned)


class FfiRecorder:
    """Stands in for the native side of the SDK: keeps each `send_text` request the real
    `LocalParticipant.send_text` builds, and answers it as the native layer does."""

    def __init__(self, client: FfiClient) -> None:
        self.client, self.sent = client, []  # type: list[proto_ffi.SendTextRequest]
        self._inner = client.request
        self._next = 1000

    def request(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        if req.WhichOneof("message") != "send_text":
            return self._inner(req)
        self.sent.append(req.send_text)
        self._next += 1
        resp = proto_ffi.FfiResponse()
        resp.send_text.async_id = self._next
        event = proto_ffi.FfiEvent()
        event.send_text.async_id = self._next
        event.send_text.info.stream_id = f"stream-{self._next}"
        event.send_text.info.topic = req.send_text.options.topic
        self.client.queue.put(event)
        return resp


@pytest.fixture
def ffi(monkeypatch: pytest.MonkeyPatch) -> FfiRecorder:
    client = FfiClient.instance
    rec = FfiRecorder(client)
    monkeypatch.setattr(client, "request", rec.request)
    return rec


def _livekit_room(*people: rtc.RemoteParticipant) -> LiveKitRoom:
    room = rtc.Room()
    owned = pp.OwnedParticipant()
    owned.info.identity = "agent-1"
    room._local_participant = rtc.LocalParticipant(room._room_queue, owned)
    for p in people:
        room._remote_participants[p.identity] = p
    return LiveKitRoom(room, name="call-x", identity="agent-1")


async def test_on_livekit_the_brief_is_sent_with_the_staff_as_destinations(
    ffi: FfiRecorder,
) -> None:
    sip = pp.ParticipantKind.PARTICIPANT_KIND_SIP
    std = pp.ParticipantKind.PARTICIPANT_KIND_STANDARD
    lk = _livekit_room(
        _remote("sip_caller", sip),
        _remote("web_caller", std),  # a caller on a browser: standard, no role of ours
        _remote("ada", std, **{ROLE_ATTRIBUTE: "supervisor"}),
        _remote("monitor:bo", std, **{ROLE_ATTRIBUTE: "monitor"}),
        _remote("ada-phone", sip, **{ROLE_ATTRIBUTE: "supervisor"}),
    )
    callers = {p.identity for p in lk.participants() if p.kind == ParticipantKind.CALLER}
    assert callers == {"sip_caller"}
    await _channel(lk, callers).send_data(BRIEF_TOPIC, {"reason": "refund"})
    [req] = ffi.sent
    assert req.options.topic == BRIEF_TOPIC
    assert sorted(req.options.destination_identities) == ["ada", "ada-phone", "monitor:bo"]
    assert json.loads(req.text) == {"reason": "refund"}


async def test_on_livekit_nothing_is_sent_when_no_staff_is_in_the_room(
    ffi: FfiRecorder,
) -> None:
    # The SDK sends a message with no destinations to everyone: it must not go out at all.
    lk = _livekit_room(_remote("sip_caller", pp.ParticipantKind.PARTICIPANT_KIND_SIP),
                       _remote("web_caller", pp.ParticipantKind.PARTICIPANT_KIND_STANDARD))
    await _channel(lk, {"sip_caller"}).send_data(SUGGESTION_TOPIC, {"text": "x"})
    await lk.send_text("nobody", topic="t", to=[])
    assert ffi.sent == []
    await lk.send_text("hello all", topic="lk.chat")  # a message to everyone still goes
    assert [r.options.destination_identities for r in ffi.sent] == [[]]


# ------------------------------------------------------------------ a whole escalated call


async def test_an_escalated_call_keeps_brief_suggestions_and_coaching_from_the_caller(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    room, board, bus = LocalRoom("addr-call", clock=clock), SpeechBoard(), InProcessControlBus()
    broker = InProcessEscalationBroker()
    routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05))
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id=CALL_ID, room_name=room.name),
        flow=_flow(), stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(sqlite_engine, clock=clock),
        intents=IntentService(prefer_minilm=False),
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
    caller_inbox, monitor_inbox, sup_inbox = Inbox(), Inbox(), Inbox()
    caller.participant.on_text = caller_inbox
    # A monitor listening from the start is staff: it gets the brief when it is sent.
    room.join("monitor:bo", ParticipantKind.OTHER, on_text=monitor_inbox,
              attributes={ROLE_ATTRIBUTE: "monitor"})
    await broker.heartbeat(Presence("sup-ada"))

    async def supervisor() -> None:
        offer = await broker.next_offer("sup-ada", timeout=30)
        assert offer is not None
        assert await broker.accept(offer.offer_id, "sup-ada") is not None
        while session.state.status != "escalated":
            await asyncio.sleep(0.01)
        await bus.send(CALL_ID, Coach(text=COACH_TEXT, by="sup-ada", issued_by="sup-ada"))
        # The supervisor's browser joins after the brief went out (a late console).
        script = CallerScript.from_yaml("""
            voice: espeak
            turns:
              - say: "hello this is ada can you confirm your account number"
              - wait: 8
            """)
        sup = ScriptedCaller(room, dataclasses.replace(script, identity="sup-ada"),
                             board=board, kind=ParticipantKind.SUPERVISOR)
        sup.participant.on_text = sup_inbox
        await sup.run()
        await bus.send(CALL_ID, HandBack(issued_by="sup-ada"))

    run = asyncio.ensure_future(session.run())
    sup_task = asyncio.ensure_future(supervisor())
    await caller.run()
    await asyncio.wait_for(run, 30)
    await sup_task
    routing.cancel()

    assert not set(caller_inbox.topics()) & set(PRIVATE), caller_inbox.topics()
    assert not any(COACH_TEXT in text for _t, text in caller_inbox.got)
    broadcast = [(topic, text) for _w, topic, text, to in room.messages if to is None]
    assert not any(t in PRIVATE or COACH_TEXT in x for t, x in broadcast), broadcast
    assert BRIEF_TOPIC in monitor_inbox.topics() and SUGGESTION_TOPIC in monitor_inbox.topics()
    # The supervisor joined late: no brief in the room for it, but what came after it.
    assert BRIEF_TOPIC not in sup_inbox.topics()
    assert SUGGESTION_TOPIC in sup_inbox.topics(), "the 'fact' suggestion after it joined"
    # ... and its console reads the brief from the call's stored events, as the
    # production console follows a call (records.live.read_feed from the start).
    with Session(sqlite_engine) as s:
        feed = read_feed(s, CALL_ID, FeedCursor())
    [brief] = [i.data for i in feed if i.kind == "brief"]
    assert brief["slots"] == {"account_number": "4821"} and brief["supervisor"] == "sup-ada"
    assert [i.data["kind"] for i in feed if i.kind == "suggestion"] == [
        json.loads(text)["kind"] for _w, topic, text, _to in room.messages
        if topic == SUGGESTION_TOPIC], "every suggestion, also those sent before it joined"
    room.close()
