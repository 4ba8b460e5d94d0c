"""The dev SIP endpoint against a hand-written UDP peer: every answer, byte for byte."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.base import (
    DtmfReceived,
    ParticipantKind,
    ParticipantLeft,
    RoomClosed,
    RoomEvent,
)
from callcenter.rooms.sip import SipEndpoint, SipRoom, SipTimers
from callcenter.rooms.sip.dialog import response_for
from callcenter.rooms.sip.message import SipRequest, SipResponse, parse_message
from callcenter.rooms.sip.rtp import RtpPacket, parse_rtp
from tests.sip.peer import Dialog, UdpPeer, dominant_hz, sdp, tone_packets

FAST = SipTimers(t1=0.02, t2=0.08)  # retransmissions in milliseconds, giving up in 1.3 s


class Env:
    def __init__(self, ep: SipEndpoint, peer: UdpPeer) -> None:
        self.ep, self.peer = ep, peer
        self.rooms: list[SipRoom] = []
        self.events: list[RoomEvent] = []

    def dialog(self, **kw: str) -> Dialog:
        return Dialog(self.peer, self.ep.port, **kw)


async def _env(**kw: object) -> AsyncIterator[Env]:
    ep = SipEndpoint("127.0.0.1", 0, rtp_ports=None, timers=FAST, **kw)  # type: ignore[arg-type]
    env = Env(ep, await UdpPeer.open())

    def on_call(room: SipRoom) -> None:
        env.rooms.append(room)
        room.on_event(env.events.append)

    ep.on_call = on_call
    await ep.start()
    try:
        yield env
    finally:
        await ep.aclose()
        env.peer.close()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async for e in _env():
        yield e


async def _quiet(peer: UdpPeer, seconds: float) -> list[bytes]:
    """Everything that arrives in the next `seconds`."""
    got: list[bytes] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            got.append(await peer.recv(left))
        except TimeoutError:
            break
    return got


async def test_options_is_answered_200_with_what_the_endpoint_allows(env: Env) -> None:
    d = env.dialog()
    d.send("OPTIONS")
    ok = await env.peer.response(200)
    assert "INVITE" in (ok.headers.get("Allow") or "") and ok.call_id == d.call_id


async def test_an_invite_rings_then_answers_with_sdp_and_becomes_a_room(env: Env) -> None:
    d = env.dialog()
    d.send("INVITE", sdp(40000))
    trying = await env.peer.sip()
    ringing = await env.peer.sip()
    ok = await env.peer.response(200)
    assert isinstance(trying, SipResponse) and trying.status == 100
    assert isinstance(ringing, SipResponse) and ringing.status == 180
    assert "tag=" in (ringing.headers.get("To") or "")
    assert ringing.headers.get("To") == ok.headers.get("To")  # one dialog, one tag
    body = ok.body.decode()
    assert ok.headers.get("Content-Type") == "application/sdp"
    assert "RTP/AVP 0 101" in body and "a=rtpmap:101 telephone-event/8000" in body
    assert ok.headers.get("Contact") == f"<sip:+15550001000@127.0.0.1:{env.ep.port}>"
    d.send("ACK")
    await asyncio.sleep(0.05)
    [room] = env.rooms
    [caller] = room.participants()
    assert caller.kind == ParticipantKind.CALLER
    assert caller.attributes["sip.phoneNumber"] == "+15550001111"
    assert caller.attributes["sip.trunkPhoneNumber"] == "+15550001000"
    assert room.name.startswith("call-") and room.local_identity == "agent"


async def test_a_retransmitted_invite_gets_the_same_answer_and_no_second_call(env: Env) -> None:
    d = env.dialog()
    invite = d.request("INVITE", sdp(40000))
    env.peer.send(invite, d.ep)
    first = await env.peer.response(200)
    env.peer.send(invite, d.ep)  # the 200 was "lost": the caller sends its INVITE again
    again = await env.peer.response(200)
    assert again.to_bytes() == first.to_bytes()
    assert len(env.rooms) == 1 and len(env.ep.calls) == 1


async def test_the_200_is_resent_until_the_ack_then_stops(env: Env) -> None:
    d = env.dialog()
    d.send("INVITE", sdp(40000))
    await env.peer.response(200)
    resent = [m for m in await _quiet(env.peer, 0.25) if m.startswith(b"SIP/2.0 200")]
    assert len(resent) >= 3  # T1, 2*T1, 4*T1 (capped at T2) ...
    [call] = env.ep.calls.values()
    d.to_tag = call.local_tag
    d.send("ACK")
    await asyncio.sleep(0.03)
    assert not [m for m in await _quiet(env.peer, 0.3) if m.startswith(b"SIP/2.0 200")]
    assert not env.rooms[0].closed


async def test_a_200_never_acked_ends_the_call_with_a_bye(env: Env) -> None:
    d = env.dialog()
    d.send("INVITE", sdp(40000))
    await env.peer.response(200)
    got = await _quiet(env.peer, 2.0)  # 64*T1 = 1.28 s
    assert any(m.startswith(b"BYE ") for m in got)
    assert env.rooms[0].closed and env.rooms[0].close_reason == "no ACK"


async def test_caller_bye_makes_the_caller_leave_and_closes_the_room(env: Env) -> None:
    d = env.dialog()
    await d.call(40000)
    await asyncio.sleep(0.05)
    bye = d.request("BYE", cseq=2)
    env.peer.send(bye, d.ep)
    assert (await env.peer.response(200)).cseq == (2, "BYE")
    env.peer.send(bye, d.ep)  # retransmitted BYE: the same 200, not a 481
    assert (await env.peer.response(200)).cseq == (2, "BYE")
    room = env.rooms[0]
    kinds = [type(e) for e in env.events]
    assert kinds == [ParticipantLeft, RoomClosed] and room.closed
    assert room.participants() == [] and not env.ep.calls and not env.ep.ports.in_use


async def test_agent_hangup_sends_bye_in_the_dialog(env: Env) -> None:
    d = env.dialog()
    await d.call(40000)
    await asyncio.sleep(0.05)
    await env.rooms[0].hangup()
    bye = await env.peer.sip()
    while not isinstance(bye, SipRequest):
        bye = await env.peer.sip()
    assert bye.method == "BYE" and bye.call_id == d.call_id
    assert f"tag={d.to_tag}" in (bye.headers.get("From") or "")
    assert f"tag={d.from_tag}" in (bye.headers.get("To") or "")
    assert bye.uri == f"sip:+15550001111@127.0.0.1:{env.peer.port}"
    assert [type(e) for e in env.events] == [RoomClosed]
    env.peer.send(response_for(bye, 200).to_bytes(), d.ep)
    await asyncio.sleep(0.05)
    assert not env.ep.calls and not env.ep.ports.in_use  # the BYE transaction is done


async def test_a_bye_for_an_unknown_dialog_is_481(env: Env) -> None:
    d = env.dialog()
    d.to_tag = "nosuchtag"
    d.send("BYE")
    assert (await env.peer.response(481)).reason == "Call/Transaction Does Not Exist"


async def test_a_malformed_invite_is_400_and_the_next_call_still_works(env: Env) -> None:
    d = env.dialog()
    broken = d.request("INVITE", sdp(40000)).replace("CSeq: 1 INVITE", "CSeq: one INVITE")
    env.peer.send(broken, d.ep)
    bad = await env.peer.response(400)
    assert "CSeq" in bad.reason
    env.peer.send(b"\x16\x03\x01 not sip at all", d.ep)  # garbage: dropped, nothing breaks
    env.peer.send(b"\r\n\r\n", d.ep)  # keep-alive
    await env.dialog().call(40000)
    assert len(env.rooms) == 1


async def test_an_offer_with_no_common_codec_is_488(env: Env) -> None:
    d = env.dialog()
    d.send("INVITE", sdp(40000, payloads="9 18").replace("a=rtpmap:0 PCMU/8000\r\n", ""))
    refused = await env.peer.response(488)
    assert "no PCMU or PCMA" in (refused.headers.get("Warning") or "")
    d.to_tag = (refused.headers.get("To") or "").split("tag=")[-1]
    d.send("ACK")
    await asyncio.sleep(0.05)
    assert not [m for m in await _quiet(env.peer, 0.2) if b" 488 " in m[:20]]
    assert not env.rooms and not env.ep.calls


async def test_cancel_while_ringing_ends_the_invite_with_487() -> None:
    async for env in _env(ring_s=5.0):
        d = env.dialog()
        d.send("INVITE", sdp(40000))
        await env.peer.response(180)
        invite_branch = d.branch
        d.send("CANCEL", branch=invite_branch)
        got = [await env.peer.sip(), await env.peer.sip()]
        statuses = sorted((m.status, m.cseq[1]) for m in got if isinstance(m, SipResponse))
        assert statuses == [(200, "CANCEL"), (487, "INVITE")]
        d.send("ACK", branch=invite_branch)
        await asyncio.sleep(0.05)
        assert not env.rooms and not env.ep.calls and not env.ep.ports.in_use
        d.send("CANCEL", branch="z9hG4bKnothere", cseq=9)
        assert (await env.peer.response(481)).cseq == (9, "CANCEL")


async def test_a_reinvite_gets_200_with_the_same_sdp(env: Env) -> None:
    d = env.dialog()
    ok = await d.call(40000)
    d.cseq = 2
    d.send("INVITE", sdp(40002))
    again = await env.peer.response(200)
    d.send("ACK")
    assert again.body == ok.body and again.cseq == (2, "INVITE")
    room = env.rooms[0]
    assert not room.closed and room.media.negotiated.remote == ("127.0.0.1", 40002)
    d.cseq = 3
    d.send("INVITE", "")  # no offer (a refresh): still our same description
    assert (await env.peer.response(200)).body == ok.body


async def test_closing_the_endpoint_turns_a_ringing_call_away_with_480() -> None:
    async for env in _env(ring_s=5.0):
        ringing = env.dialog()
        ringing.send("INVITE", sdp(40000))
        await env.peer.response(180)
        await env.ep.aclose()  # the fixture closes it again: closing twice is fine
        got = [m for m in [parse_message(d) for d in await _quiet(env.peer, 0.3)]
               if isinstance(m, SipResponse)]
        assert 480 in {m.status for m in got}
        assert not env.ep.calls and not env.ep.ports.in_use


async def test_other_methods_get_sane_answers(env: Env) -> None:
    d = env.dialog()
    d.send("REGISTER")
    assert (await env.peer.response(200)).headers.get("Expires") == "3600"
    d.send("SUBSCRIBE")
    assert (await env.peer.response(405)).headers.get("Allow")
    d.send("FROBNICATE")
    await env.peer.response(501)


async def test_audio_dtmf_and_the_agents_voice_flow_over_rtp(env: Env) -> None:
    rtp = await UdpPeer.open()
    try:
        d = env.dialog()
        ok = await d.call(rtp.port)
        ep_rtp = int(ok.body.decode().split("m=audio ")[1].split()[0])
        room = env.rooms[0]
        caller = room.participants()[0].identity
        frames = room.audio_stream(caller, 16000)
        for pkt in tone_packets(1000.0, 0.6):  # the caller's voice, paced like a phone
            rtp.send(pkt, ("127.0.0.1", ep_rtp))
            await asyncio.sleep(0.02)
        got = []
        async for f in frames:
            got.append(f)
            if len(got) == 40:
                break
        assert {len(f.samples) for f in got} == {320} and got[0].sample_rate == 16000
        assert [f.timestamp_ms for f in got[:3]] == [0.0, 20.0, 40.0]
        heard = np.concatenate([f.samples for f in got])
        assert abs(dominant_hz(heard, 16000) - 1000.0) < 30
        # Keys: start, updates, the end packet three times -> one digit.
        for seq, (dur, end) in enumerate([(0, 0), (160, 0), (320, 0x80), (320, 0x80)]):
            pkt = RtpPacket(101, 900 + seq, 5000, 43, bytes([7, end | 10]) + dur.to_bytes(2, "big"),
                            seq == 0)
            rtp.send(pkt.to_bytes(), ("127.0.0.1", ep_rtp))
        # The agent speaks: a 440 Hz tone at 16 kHz reaches the phone as PCMU.
        t = np.arange(16000) / 16000.0
        while not rtp.inbox.empty():
            rtp.inbox.get_nowait()
        await room.audio_output.capture_frame(
            AudioFrame((6000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16), 16000))
        await asyncio.wait_for(room.audio_output.wait_for_playout(), 3.0)
        out = [p for d_ in await _quiet(rtp, 0.2) if (p := parse_rtp(d_)) is not None]
        voiced = [p for p in out if max(p.payload) - min(p.payload) > 20]
        assert voiced and {p.payload_type for p in out} == {0}
        seqs = [p.seq for p in out]
        assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(seqs))
        assert [e.digit for e in env.events if isinstance(e, DtmfReceived)] == ["7"]
        assert room.audio_output.played_ms == pytest.approx(1000.0, abs=20.0)
        assert room.media.jitter.stats.lost == 0
    finally:
        rtp.close()


async def test_a_sip_info_key_press_is_a_dtmf_event(env: Env) -> None:
    d = env.dialog()
    await d.call(40000)
    d.cseq = 2
    d.send("INFO", "Signal=5\r\nDuration=160\r\n", ctype="application/dtmf-relay")
    await env.peer.response(200)
    assert [e.digit for e in env.events if isinstance(e, DtmfReceived)] == ["5"]


async def test_rtp_ports_come_from_the_configured_range() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1] & ~1  # an even port that was free a moment ago
    ep = SipEndpoint("127.0.0.1", 0, rtp_ports=(port, port), timers=FAST)
    peer = await UdpPeer.open()
    await ep.start()
    try:
        first = Dialog(peer, ep.port)
        ok = await first.call(40000)
        assert f"m=audio {port} " in ok.body.decode()
        second = Dialog(peer, ep.port)
        second.send("INVITE", sdp(40000))
        assert (await peer.response(503)).headers.get("Retry-After") == "5"
        first.cseq = 2
        first.send("BYE")
        await peer.response(200)
        assert f"m=audio {port} " in (await Dialog(peer, ep.port).call(40000)).body.decode()
    finally:
        await ep.aclose()
        peer.close()


async def test_an_invite_without_sdp_gets_our_offer_and_the_ack_answers(env: Env) -> None:
    d = env.dialog()
    d.send("INVITE")
    ok = await env.peer.response(200)
    assert "RTP/AVP 0 8 101" in ok.body.decode()
    d.to_tag = (ok.headers.get("To") or "").split("tag=")[-1]
    d.send("ACK", sdp(40010, payloads="8 101").replace("rtpmap:0 PCMU", "rtpmap:8 PCMA"))
    await asyncio.sleep(0.05)
    neg = env.rooms[0].media.negotiated
    assert neg.remote == ("127.0.0.1", 40010) and neg.sends
