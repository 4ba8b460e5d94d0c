"""`callcenter livekit setup` reports the outbound trunk the phone desk dials through: found
with its address and numbers (never its credentials), or what to create and set."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from livekit import api
from livekit.protocol import sip

from callcenter.livekit_setup import check_outbound_trunk
from callcenter.testing.livekit import FakeLiveKitServer

LIST = "livekit.SIP/ListSIPOutboundTrunk"


@pytest.fixture
async def lk() -> AsyncIterator[tuple[FakeLiveKitServer, api.LiveKitAPI]]:
    async with FakeLiveKitServer() as server:
        lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
        yield server, lkapi
        await lkapi.aclose()


def _trunks(server: FakeLiveKitServer, *trunks: sip.SIPOutboundTrunkInfo) -> None:
    def listing(req: sip.ListSIPOutboundTrunkRequest) -> sip.ListSIPOutboundTrunkResponse:
        wanted = set(req.trunk_ids)
        return sip.ListSIPOutboundTrunkResponse(
            items=[t for t in trunks if not wanted or t.sip_trunk_id in wanted])

    server.twirp.set_handler(LIST, listing)  # type: ignore[arg-type]


async def test_a_known_trunk_is_reported_without_its_credentials(
    lk: tuple[FakeLiveKitServer, api.LiveKitAPI],
) -> None:
    server, lkapi = lk
    _trunks(server, sip.SIPOutboundTrunkInfo(
        sip_trunk_id="ST_out1", name="carrier", address="sip.carrier.example",
        numbers=["+18005550100"], auth_username="acct", auth_password="hunter2-secret"))
    change = await check_outbound_trunk(lkapi, "ST_out1")
    line = str(change)
    assert line == ("found outbound trunk ST_out1: carrier via sip.carrier.example, "
                    "+18005550100")
    assert "hunter2" not in line and "acct" not in line
    [listed] = server.twirp.calls_to("ListSIPOutboundTrunk")
    assert list(listed.request.trunk_ids) == ["ST_out1"]  # type: ignore[attr-defined]


async def test_an_unknown_or_missing_trunk_says_what_to_create_and_set(
    lk: tuple[FakeLiveKitServer, api.LiveKitAPI],
) -> None:
    server, lkapi = lk
    _trunks(server, sip.SIPOutboundTrunkInfo(sip_trunk_id="ST_other", address="x.example"))
    with pytest.raises(ValueError, match="ST_nope is not an outbound trunk on this LiveKit"):
        await check_outbound_trunk(lkapi, "ST_nope")
    with pytest.raises(ValueError, match="SIP_OUTBOUND_TRUNK_ID is not set: create"):
        await check_outbound_trunk(lkapi, "")
