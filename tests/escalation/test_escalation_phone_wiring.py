"""The phone desk as `callcenter api` runs it: built from settings by the production console,
on the machine's Redis (a key prefix of the test's own) and PostgreSQL (the caller's room
from the calls table), ringing through the fake LiveKit's real Twirp/protobuf API. A
worker's broker on the same Redis escalates; the busy phone passes the call to the next,
and each ring is told to the call over the Redis control bus (the worker's lease)."""

from __future__ import annotations

import asyncio
import datetime as dt

from livekit.protocol import sip
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.config import load_settings
from callcenter.console.production import ProductionConsole
from callcenter.control.commands import Command, CommandResult, PhoneRing
from callcenter.control.redis_bus import RedisControlBus
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.escalation import Presence, QueueEscalation, TicketState
from callcenter.escalation.redis_broker import RedisEscalationBroker
from callcenter.flow.actions import Escalate
from callcenter.models import Call, CallStatus
from callcenter.testing.livekit import FakeLiveKitServer, TwirpFault
from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis

ANA, BOB = "+15550000001", "+15550000002"


def _phones(server: FakeLiveKitServer, answers: set[str]) -> None:
    async def create(req: sip.CreateSIPParticipantRequest) -> sip.SIPParticipantInfo:
        if req.sip_call_to in answers:
            return sip.SIPParticipantInfo(participant_identity=req.participant_identity,
                                          room_name=req.room_name, sip_call_id="SCL_w")
        raise TwirpFault("unavailable", "call failed", 503,
                         {"sip_status_code": "486", "sip_status": "Busy Here"})

    server.twirp.set_handler("livekit.SIP/CreateSIPParticipant", create)  # type: ignore[arg-type]


async def _escalated(pg_engine: Engine, server: FakeLiveKitServer, prefix: str,
                     call: Call) -> tuple[object, ProductionConsole, RedisEscalationBroker]:
    call_id = call.id
    with Session(pg_engine) as db:
        db.add(call)
        db.commit()
    settings = load_settings(
        redis_url=REDIS_URL, redis_key_prefix=prefix, livekit_url=server.url,
        livekit_api_key=server.api_key, livekit_api_secret=server.api_secret,
        phone_supervisors=f"ana={ANA},bob={BOB}", sip_outbound_trunk_id="ST_out",
        phone_ring_timeout_s=7)
    console = ProductionConsole.from_settings(settings, pg_engine)
    worker = RedisEscalationBroker.from_url(REDIS_URL, prefix=prefix, poll_s=0.02)
    await worker.heartbeat(Presence("phone-ana"))  # idle longest: offered (rung) first
    await asyncio.sleep(0.01)
    console.start()
    while await worker.staffed("support") < 2:  # the desk put both phones on duty
        await asyncio.sleep(0.02)
    escalation = QueueEscalation(worker, update_s=0.2)
    request = escalation.request(call_id, Escalate(queue="support", reason="A person, please.",
                                                   timeout=60.0))
    return await asyncio.wait_for(request, 60), console, worker


async def test_callcenter_api_rings_phone_supervisors_into_the_callers_room(
    pg_engine: Engine,
) -> None:
    require_redis()
    prefix = new_prefix()
    told: list[Command] = []

    async def handle(command: Command) -> CommandResult:
        told.append(command)
        return CommandResult()

    store = RedisCheckpointStore.from_url(REDIS_URL, prefix=prefix)
    bus = RedisControlBus(store, poll_s=0.05, refresh_s=0.2)
    lease = await store.acquire("w1", "w-test", room_name="call-room-w1",
                                agent_name="callcenter", ttl_s=30.0)
    assert lease is not None
    serving = await bus.serve(lease, handle)  # the worker holding the call
    async with FakeLiveKitServer() as server:
        _phones(server, answers={BOB})
        call = Call(id="w1", room_name="call-room-w1", status=CallStatus.ESCALATED)
        result, console, worker = await _escalated(pg_engine, server, prefix, call)
        try:
            for _ in range(500):
                if len(told) == 2:
                    break
                await asyncio.sleep(0.02)
            assert told == [
                PhoneRing(issued_by="phone desk", supervisor="phone-ana", outcome="busy",
                          sip_status=486),
                PhoneRing(issued_by="phone desk", supervisor="phone-bob", outcome="answered")]
            assert result.outcome == "connected"  # type: ignore[attr-defined]
            assert result.supervisor == "phone-bob"  # type: ignore[attr-defined]
            dialled = [c.request for c in server.twirp.calls_to("CreateSIPParticipant")]
            assert [r.sip_call_to for r in dialled] == [ANA, BOB]  # busy, then answered
            for req in dialled:  # the caller's own room from the calls table, our trunk
                assert (req.room_name, req.sip_trunk_id, req.wait_until_answered) == (
                    "call-room-w1", "ST_out", True)
                assert req.ringing_timeout.ToTimedelta() == dt.timedelta(seconds=7)
            status = await worker.status("w1")
            assert status is not None and status.state is TicketState.CONNECTED
            assert status.ticket.declined_by == ("phone-ana",)
            rings = console.phones.desk.rings if console.phones and console.phones.desk else []
            assert [(r.supervisor_id, r.result.outcome, r.result.sip_status) for r in rings] == [
                ("phone-ana", "busy", 486), ("phone-bob", "answered", None)]
        finally:
            await console.aclose()
        # Closing the API signs the phones off: routing offers them nothing more.
        assert {p.supervisor_id: p.status.value for p in await worker.supervisors()} == {
            "phone-ana": "away", "phone-bob": "away"}
        await worker.aclose()
    await serving.aclose()
    await store.finish(lease)
    await bus.aclose()
    await store.aclose()
    delete_prefix(REDIS_URL, prefix)


async def test_a_call_that_ended_is_not_rung_and_goes_to_the_no_supervisor_route(
    pg_engine: Engine,
) -> None:
    require_redis()
    prefix = new_prefix()
    async with FakeLiveKitServer() as server:
        _phones(server, answers={ANA, BOB})
        call = Call(id="w2", room_name="call-room-w2", status=CallStatus.ENDED)
        result, console, worker = await _escalated(pg_engine, server, prefix, call)
        try:
            # Nobody is rung into a room nobody is in; both phones rest, nobody is left.
            assert server.twirp.calls_to("CreateSIPParticipant") == []
            assert result.outcome == "unavailable"  # type: ignore[attr-defined]
            desk = console.phones.desk if console.phones else None
            assert desk is not None and {r.result.message for r in desk.rings} == {
                "the call has no room"}
        finally:
            await console.aclose()
            await worker.aclose()
    delete_prefix(REDIS_URL, prefix)


async def test_of_two_api_processes_one_rings_phones_and_the_other_takes_over(
    pg_engine: Engine,
) -> None:
    """One desk per Redis prefix: the second would heartbeat a resting phone back to
    available. The lease holder runs; when it stops, the other process takes over."""
    from callcenter.escalation.phone_desk import PhoneDesk, PhoneSupervisor
    from callcenter.escalation.phone_leader import DeskLease
    from callcenter.escalation.phone_service import PhoneDeskService, room_of_calls_table

    require_redis()
    prefix = new_prefix()
    async with FakeLiveKitServer() as server:
        from livekit import api

        broker = RedisEscalationBroker.from_url(REDIS_URL, prefix=prefix, poll_s=0.02)
        people = [PhoneSupervisor("phone-ana", ANA, name="ana")]

        async def never(_room: str, sup: PhoneSupervisor) -> object:
            raise AssertionError("nobody is offered a call here")

        def service() -> PhoneDeskService:
            return PhoneDeskService(
                lambda _lk: PhoneDesk(broker, people, never, room_of_calls_table(pg_engine),  # type: ignore[arg-type]
                                      heartbeat_s=0.1),
                lambda: api.LiveKitAPI(server.url, server.api_key, server.api_secret),
                lease=DeskLease.from_url(REDIS_URL, prefix, ttl_s=3.0))

        a, b = service(), service()
        a.start()
        while not a.running:
            await asyncio.sleep(0.02)
        b.start()
        while await broker.staffed("support") < 1:
            await asyncio.sleep(0.02)
        for _ in range(30):  # b looks at the lease every second; a renews it as often
            await asyncio.sleep(0.1)
            assert not b.running
        await a.aclose()  # releases the lease on the way out
        while not b.running:
            await asyncio.sleep(0.02)
        while await broker.staffed("support") < 1:  # b put ana back on duty
            await asyncio.sleep(0.02)
        await b.aclose()
        assert [p.status.value for p in await broker.supervisors()] == ["away"]
        await broker.aclose()
    delete_prefix(REDIS_URL, prefix)
