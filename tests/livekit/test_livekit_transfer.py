"""Cold transfer on LiveKit: a SIP REFER of the caller's leg, through the real livekit-api SDK.

The fake Twirp server decodes the request with the real protobuf type, so these tests check
what goes on the wire, and that every kind of refusal becomes `TransferFailed`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from livekit import api, rtc
from livekit.protocol import sip
from livekit.rtc._proto import participant_pb2 as pp

from callcenter.rooms.base import RoomCapabilityError, TransferFailed
from callcenter.rooms.livekit import LiveKitRoom, sip_transfer_uri
from callcenter.testing.livekit import FakeLiveKitServer, TwirpFault

TRANSFER = "livekit.SIP/TransferSIPParticipant"


def sip_caller(identity: str) -> rtc.RemoteParticipant:
    owned = pp.OwnedParticipant()
    owned.info.identity = identity
    owned.info.kind = pp.ParticipantKind.PARTICIPANT_KIND_SIP
    owned.info.attributes.update({"sip.phoneNumber": "+15551230000"})
    return rtc.RemoteParticipant(owned)


@pytest.fixture
async def server() -> AsyncIterator[FakeLiveKitServer]:
    async with FakeLiveKitServer() as s:
        yield s


def room_with_caller(server: FakeLiveKitServer, *, caller: bool = True) -> LiveKitRoom:
    lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    room = LiveKitRoom(rtc.Room(), name="call-7", identity="agent-call-7", lkapi=lkapi)
    if caller:
        # An unconnected rtc.Room has no way to add a participant but its own table.
        room.rtc._remote_participants["sip_+15551230000"] = sip_caller("sip_+15551230000")
    return room


async def test_transfer_refers_the_sip_caller_to_the_target(server: FakeLiveKitServer) -> None:
    room = room_with_caller(server)
    await room.transfer("+18005550199")
    (call,) = server.twirp.calls_to("TransferSIPParticipant")
    req = call.request
    assert isinstance(req, sip.TransferSIPParticipantRequest)
    assert req.participant_identity == "sip_+15551230000"
    assert req.room_name == "call-7"
    assert req.transfer_to == "tel:+18005550199"
    await room.aclose()


async def test_a_busy_target_is_transfer_failed_with_the_sip_status(
    server: FakeLiveKitServer,
) -> None:
    def busy(_req: object) -> sip.TransferSIPParticipantResponse:
        raise TwirpFault("unavailable", "transfer failed", 503,
                         {"sip_status_code": "486", "sip_status": "Busy Here",
                          "sip_transfer_reason": "STR_REJECTED"})

    server.twirp.set_handler(TRANSFER, busy)
    room = room_with_caller(server)
    with pytest.raises(TransferFailed) as info:
        await room.transfer("sip:sales@pbx.example.com")
    assert info.value.sip_status == 486 and info.value.target == "sip:sales@pbx.example.com"
    assert "486 Busy Here" in str(info.value)
    await room.aclose()


async def test_a_failed_outcome_in_a_200_reply_is_transfer_failed(
    server: FakeLiveKitServer,
) -> None:
    def declined(_req: object) -> sip.TransferSIPParticipantResponse:
        return sip.TransferSIPParticipantResponse(
            status=sip.SIPTransferStatus.STS_TRANSFER_FAILED,
            reason=sip.SIPTransferReason.STR_RINGING_TIMEOUT,
        )

    server.twirp.set_handler(TRANSFER, declined)
    room = room_with_caller(server)
    with pytest.raises(TransferFailed, match="STR_RINGING_TIMEOUT"):
        await room.transfer("+18005550199")
    await room.aclose()


async def test_a_server_error_without_sip_status_is_transfer_failed(
    server: FakeLiveKitServer,
) -> None:
    def gone(_req: object) -> sip.TransferSIPParticipantResponse:
        raise TwirpFault("not_found", "participant not found", 404)

    server.twirp.set_handler(TRANSFER, gone)
    room = room_with_caller(server)
    with pytest.raises(TransferFailed, match="not_found") as info:
        await room.transfer("+18005550199")
    assert info.value.sip_status is None
    await room.aclose()


async def test_no_caller_or_no_api_keys_fail_before_any_request(
    server: FakeLiveKitServer,
) -> None:
    room = room_with_caller(server, caller=False)
    with pytest.raises(TransferFailed, match="no SIP caller"):
        await room.transfer("+18005550199")
    await room.aclose()
    keyless = LiveKitRoom(rtc.Room(), name="call-8", identity="agent")
    with pytest.raises(RoomCapabilityError):
        await keyless.transfer("+18005550199")
    await keyless.aclose()
    assert server.twirp.calls_to("TransferSIPParticipant") == []


def test_transfer_targets_become_uris_livekit_accepts() -> None:
    assert sip_transfer_uri("+15551234567") == "tel:+15551234567"
    assert sip_transfer_uri("sip:desk@pbx.example.com") == "sip:desk@pbx.example.com"
    assert sip_transfer_uri("tel:+15551234567") == "tel:+15551234567"
