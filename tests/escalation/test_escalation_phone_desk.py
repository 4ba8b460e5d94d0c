"""Supervisors by phone: the desk rings an offered supervisor into the caller's room over
LiveKit SIP (the Twirp fake decodes the real CreateSIPParticipant requests); a busy or
unanswered phone declines the offer so the next supervisor gets the call, and with nobody
left the caller's side takes the flow's no-supervisor route. Both brokers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from livekit import api
from livekit.protocol import sip

from callcenter.escalation import Presence, Queue, QueueEscalation, TicketState, run_routing
from callcenter.escalation.livekit_join import livekit_dialer
from callcenter.escalation.phone_desk import PhoneDesk, PhoneSupervisor
from callcenter.flow.actions import Escalate
from callcenter.testing.livekit import FakeLiveKitServer, TwirpFault
from tests.escalation.conftest import Make
from tests.escalation.helpers import FakeClock

CREATE = "livekit.SIP/CreateSIPParticipant"
# The accept window bounds a ring LiveKit never answers (plus the desk's margin).
QUEUES = (Queue("phones", accept_timeout_s=2.0),)
ANA = PhoneSupervisor("ana", "+15550000001", name="Ana")
BOB = PhoneSupervisor("bob", "+15550000002", name="Bob")
BUSY, ANSWERS, SILENT, NO_ANSWER = "486", "answer", "hang", "480"


@pytest.fixture
async def server() -> AsyncIterator[FakeLiveKitServer]:
    async with FakeLiveKitServer() as s:
        yield s


def _phones(server: FakeLiveKitServer, how: dict[str, str]) -> None:
    async def create(req: sip.CreateSIPParticipantRequest) -> sip.SIPParticipantInfo:
        what = how[req.sip_call_to]
        if what == ANSWERS:
            return sip.SIPParticipantInfo(participant_identity=req.participant_identity,
                                          room_name=req.room_name, sip_call_id="SCL_x")
        if what == SILENT:
            await asyncio.sleep(60)  # LiveKit never replies
        raise TwirpFault("unavailable", "call failed", 503,
                         {"sip_status_code": what, "sip_status": "Busy Here"})

    server.twirp.set_handler(CREATE, create)  # type: ignore[arg-type]


def _escalate() -> Escalate:
    return Escalate(queue="phones", reason="Wants a person.", timeout=60.0)


async def _rooms(call_id: str) -> str | None:
    return f"call-room-{call_id}"


async def _with_desk(broker: object, server: FakeLiveKitServer, sups: list[PhoneSupervisor],
                     call_id: str, **desk_kw: float) -> tuple[object, PhoneDesk]:
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lk:
        desk = PhoneDesk(broker, sups, livekit_dialer(lk, "ST_out", ring_s=5),  # type: ignore[arg-type]
                         _rooms, heartbeat_s=0.1, rest_s=600, **desk_kw)
        stop = asyncio.Event()
        routing = asyncio.ensure_future(run_routing(broker, interval_s=0.05))  # type: ignore[arg-type]
        running = asyncio.ensure_future(desk.run(stop))
        try:
            while await broker.staffed("phones") < len(sups):  # type: ignore[attr-defined]
                await asyncio.sleep(0.02)  # the desk put them on duty
            escalation = QueueEscalation(broker, update_s=0.2)  # type: ignore[arg-type]
            result = await asyncio.wait_for(escalation.request(call_id, _escalate()), 30)
        finally:
            stop.set()
            await running
            routing.cancel()
    return result, desk


async def test_a_busy_phone_supervisor_passes_the_call_to_the_next_one(
    make_broker: Make, clock: FakeClock, server: FakeLiveKitServer
) -> None:
    broker = await make_broker(queues=QUEUES)
    await broker.heartbeat(Presence("ana"))  # idle longest: offered first
    clock.advance(5)
    _phones(server, {ANA.phone: BUSY, BOB.phone: ANSWERS})
    result, desk = await _with_desk(broker, server, [ANA, BOB], "c1")
    assert result.outcome == "connected" and result.supervisor == "bob"  # type: ignore[attr-defined]
    assert [(r.supervisor_id, r.result.outcome, r.result.sip_status, r.accepted)
            for r in desk.rings] == [("ana", "busy", 486, False), ("bob", "answered", None, True)]
    dialled = [c.request for c in server.twirp.calls_to("CreateSIPParticipant")]
    assert [(r.sip_call_to, r.room_name, r.wait_until_answered) for r in dialled] == [
        (ANA.phone, "call-room-c1", True), (BOB.phone, "call-room-c1", True)]
    assert dialled[1].participant_identity == "bob-phone"
    status = await broker.status("c1")
    assert status is not None and status.state is TicketState.CONNECTED
    assert status.ticket.declined_by == ("ana",)


async def test_with_no_phone_answering_the_call_takes_the_no_supervisor_route(
    make_broker: Make, server: FakeLiveKitServer
) -> None:
    broker = await make_broker(queues=QUEUES)
    _phones(server, {ANA.phone: NO_ANSWER, BOB.phone: SILENT})
    result, desk = await _with_desk(broker, server, [ANA, BOB], "c2", ring_margin_s=0.5)
    # The runner sends an `unavailable` escalation to the node's on_no_supervisors.
    assert result.outcome == "unavailable" and "no supervisor" in (result.note or "")  # type: ignore[attr-defined]
    outcomes = sorted((r.supervisor_id, r.result.outcome) for r in desk.rings)
    assert outcomes == [("ana", "no_answer"), ("bob", "no_answer")]
    status = await broker.status("c2")
    assert status is not None and status.state is TicketState.TIMED_OUT
    assert status.ticket.end_reason == "no_supervisors"
    assert {p.status.value for p in await broker.supervisors()} == {"away"}


@pytest.mark.parametrize(("code", "outcome"), [
    ("486", "busy"), ("480", "no_answer"), ("408", "no_answer"), ("603", "declined"),
    ("503", "unreachable"),
])
async def test_each_sip_refusal_is_typed_and_the_next_phone_gets_the_call(
    make_broker: Make, clock: FakeClock, server: FakeLiveKitServer, code: str, outcome: str
) -> None:
    broker = await make_broker(queues=QUEUES)
    await broker.heartbeat(Presence("ana"))  # idle longest: rung first
    clock.advance(5)
    _phones(server, {ANA.phone: code, BOB.phone: ANSWERS})
    result, desk = await _with_desk(broker, server, [ANA, BOB], f"c-{code}")
    assert result.outcome == "connected" and result.supervisor == "bob"  # type: ignore[attr-defined]
    first = desk.rings[0]
    assert (first.supervisor_id, first.result.outcome, first.result.sip_status) == (
        "ana", outcome, int(code))
    assert not first.accepted and code in first.result.message
    status = await broker.status(f"c-{code}")
    assert status is not None and status.ticket.declined_by == ("ana",)


async def test_a_trunk_livekit_refuses_before_ringing_is_unreachable(
    make_broker: Make, server: FakeLiveKitServer
) -> None:
    async def no_trunk(req: sip.CreateSIPParticipantRequest) -> sip.SIPParticipantInfo:
        raise TwirpFault("not_found", "requested sip trunk does not exist", 404)

    server.twirp.set_handler(CREATE, no_trunk)  # type: ignore[arg-type]
    broker = await make_broker(queues=QUEUES)
    result, desk = await _with_desk(broker, server, [ANA], "c-trunk")
    assert result.outcome == "unavailable"  # type: ignore[attr-defined]
    [ring] = desk.rings
    assert ring.result.outcome == "unreachable" and ring.result.sip_status is None
    assert "not_found" in ring.result.message
