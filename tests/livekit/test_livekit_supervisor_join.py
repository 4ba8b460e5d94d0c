"""A supervisor joins the caller's LiveKit room: the console token's grants, and dialing a
supervisor's phone with `create_sip_participant`, every refusal a typed result. The fake
Twirp server decodes requests with the real protobuf types: this is what goes on the wire."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from livekit import api
from livekit.protocol import sip

from callcenter.escalation.livekit_join import dial_supervisor, supervisor_token
from callcenter.testing.livekit import FakeLiveKitServer, TwirpFault

CREATE = "livekit.SIP/CreateSIPParticipant"


@pytest.fixture
async def server() -> AsyncIterator[FakeLiveKitServer]:
    async with FakeLiveKitServer() as s:
        yield s


def test_supervisor_token_joins_only_the_callers_room_for_ten_minutes() -> None:
    jwt = supervisor_token("devkey", "a-secret-of-at-least-32-characters!!", room="call-7",
                           identity="sup-ada", name="Ada")
    claims = api.TokenVerifier("devkey", "a-secret-of-at-least-32-characters!!").verify(jwt)
    assert claims.identity == "sup-ada" and claims.name == "Ada"
    v = claims.video
    assert v is not None and v.room_join and v.room == "call-7"
    assert v.can_publish and v.can_subscribe
    assert not v.room_admin and not v.room_create and not v.room_list
    assert claims.attributes == {"callcenter.role": "supervisor"}
    import jwt as pyjwt

    exp = pyjwt.decode(jwt, options={"verify_signature": False})["exp"]
    assert 9 * 60 <= exp - time.time() <= 10 * 60 + 5


async def test_dialing_a_supervisor_who_answers_puts_them_in_the_callers_room(
    server: FakeLiveKitServer,
) -> None:
    def answer(req: sip.CreateSIPParticipantRequest) -> sip.SIPParticipantInfo:
        return sip.SIPParticipantInfo(participant_identity=req.participant_identity,
                                      room_name=req.room_name, sip_call_id="SCL_1")

    server.twirp.set_handler(CREATE, answer)  # type: ignore[arg-type]
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lk:
        result = await dial_supervisor(lk, room="call-7", phone="+15557770000",
                                       trunk_id="ST_out", identity="sup-ada-phone")
    assert result.answered and result.participant_identity == "sup-ada-phone"
    (call,) = server.twirp.calls_to("CreateSIPParticipant")
    req = call.request
    assert isinstance(req, sip.CreateSIPParticipantRequest)
    assert (req.room_name, req.sip_call_to, req.sip_trunk_id) == ("call-7", "+15557770000",
                                                                   "ST_out")
    assert req.wait_until_answered and req.participant_identity == "sup-ada-phone"


@pytest.mark.parametrize(("code", "reason", "outcome"), [
    ("486", "Busy Here", "busy"),
    ("480", "Temporarily Unavailable", "no_answer"),
    ("408", "Request Timeout", "no_answer"),
    ("603", "Decline", "declined"),
    ("404", "Not Found", "unreachable"),
    ("503", "Service Unavailable", "unreachable"),
])
async def test_a_refused_dial_is_a_typed_result_with_its_sip_status(
    server: FakeLiveKitServer, code: str, reason: str, outcome: str,
) -> None:
    def refuse(_req: object) -> sip.SIPParticipantInfo:
        raise TwirpFault("unavailable", "call failed", 503,
                         {"sip_status_code": code, "sip_status": reason})

    server.twirp.set_handler(CREATE, refuse)
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lk:
        result = await dial_supervisor(lk, room="call-7", phone="+15557770000",
                                       trunk_id="ST_out", identity="sup-ada-phone")
    assert result.outcome == outcome and result.sip_status == int(code)
    assert not result.answered and reason in result.message


async def test_a_dial_the_server_refuses_before_ringing_is_unreachable(
    server: FakeLiveKitServer,
) -> None:
    def no_trunk(_req: object) -> sip.SIPParticipantInfo:
        raise TwirpFault("not_found", "trunk ST_gone not found", 404)

    server.twirp.set_handler(CREATE, no_trunk)
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lk:
        result = await dial_supervisor(lk, room="call-7", phone="+15557770000",
                                       trunk_id="ST_gone", identity="sup-ada-phone")
    assert result.outcome == "unreachable" and result.sip_status is None
    assert "not found" in result.message


async def test_listen_only_takes_the_agents_publish_grant_away_and_hand_back_restores_it(
    server: FakeLiveKitServer,
) -> None:
    from livekit import rtc

    from callcenter.rooms.livekit import LiveKitRoom

    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lk:
        room = LiveKitRoom(rtc.Room(), name="call-7", identity="agent-call-7", lkapi=lk)
        published: list[bool] = []

        async def publish() -> None:  # the unconnected test room has no media to publish
            published.append(True)

        room.publish_audio = publish  # type: ignore[method-assign]
        await room.set_listen_only(True)
        await room.set_listen_only(False)
    updates = [c.request for c in server.twirp.calls_to("UpdateParticipant")]
    assert [(u.room, u.identity) for u in updates] == [("call-7", "agent-call-7")] * 2
    quiet, back = (u.permission for u in updates)
    assert not quiet.can_publish and quiet.can_subscribe and quiet.can_publish_data
    assert back.can_publish and back.can_subscribe and back.can_publish_data
    assert published == [True], "the agent's track is published again after the grant"


async def test_a_refused_permission_update_still_leaves_the_agent_quiet(
    server: FakeLiveKitServer,
) -> None:
    from livekit import rtc

    from callcenter.rooms.livekit import LiveKitRoom

    def refuse(_req: object) -> object:
        raise TwirpFault("not_found", "participant not found", 404)

    server.twirp.set_handler("livekit.RoomService/UpdateParticipant", refuse)  # type: ignore[arg-type]
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lk:
        room = LiveKitRoom(rtc.Room(), name="call-7", identity="agent-call-7", lkapi=lk)
        await room.set_listen_only(True)
    assert len(server.twirp.calls_to("UpdateParticipant")) == 1  # asked, and refused
    assert room.audio_output.enabled is False
