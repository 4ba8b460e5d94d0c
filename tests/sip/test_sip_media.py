"""RTP, the jitter buffer, RFC 4733 DTMF, SDP offer/answer and the agent's SIP output."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.sip.dtmf import DtmfReceiver
from callcenter.rooms.sip.output import SipAudioOutput
from callcenter.rooms.sip.rtp import JitterBuffer, RtpPacket, parse_rtp
from callcenter.rooms.sip.sdp import LocalSdp, NoCommonCodec, SdpError, negotiate, parse_offer


def _pkt(seq: int, *, pt: int = 0, ts: int = 0, ssrc: int = 7, payload: bytes = b"",
         marker: bool = False) -> RtpPacket:
    return RtpPacket(pt, seq & 0xFFFF, ts, ssrc, payload or seq.to_bytes(4, "big"), marker)


def test_rtp_packets_round_trip_and_non_rtp_is_ignored() -> None:
    p = RtpPacket(0, 65535, 2**32 - 1, 0xDEADBEEF, b"\xff" * 160, marker=True)
    back = parse_rtp(p.to_bytes())
    assert back == p
    # CSRCs, a header extension and padding are skipped to find the payload.
    raw = bytearray(p.to_bytes()[:12])
    raw[0] |= 0x10 | 0x20 | 1
    raw += b"\x00\x00\x00\x01" + b"\xbe\xde\x00\x01" + b"\x01\x02\x03\x04" + b"AB" + b"\x00\x02"
    assert parse_rtp(bytes(raw)) is not None and parse_rtp(bytes(raw)).payload == b"AB"  # type: ignore[union-attr]
    assert parse_rtp(b"\x00" * 20) is None  # version 0
    assert parse_rtp(b"\x80\xc8" + b"\x00" * 10) is None  # RTCP sender report
    assert parse_rtp(b"\x80") is None


def _drain(jb: JitterBuffer, n: int) -> list[int | None]:
    out: list[int | None] = []
    for _ in range(n):
        p = jb.pop()
        out.append(None if p is None else int.from_bytes(p, "big"))
    return out


def test_jitter_buffer_reorders_by_sequence_number() -> None:
    jb = JitterBuffer(depth=2)
    for seq in (10, 12, 11, 13):
        jb.push(_pkt(seq))
    assert _drain(jb, 4) == [10, 11, 12, 13]
    assert jb.stats.played == 4 and jb.stats.lost == 0


def test_jitter_buffer_waits_for_its_depth_before_playing() -> None:
    jb = JitterBuffer(depth=3)
    jb.push(_pkt(1))
    jb.push(_pkt(2))
    assert jb.pop() is None  # two queued, three wanted
    jb.push(_pkt(3))
    assert _drain(jb, 3) == [1, 2, 3]


def test_a_missing_packet_is_lost_and_counted_late_when_it_turns_up() -> None:
    jb = JitterBuffer(depth=1)
    for seq in (1, 3, 4):
        jb.push(_pkt(seq))
    assert _drain(jb, 3) == [1, None, 3]
    jb.push(_pkt(2))  # after its turn
    assert _drain(jb, 1) == [4]
    assert (jb.stats.lost, jb.stats.late, jb.stats.duplicate) == (1, 1, 0)


def test_duplicates_are_dropped_once_counted() -> None:
    jb = JitterBuffer(depth=1)
    jb.push(_pkt(5))
    jb.push(_pkt(5))  # queued twice
    assert _drain(jb, 1) == [5]
    jb.push(_pkt(5))  # already played
    assert jb.stats.duplicate == 2 and jb.stats.played == 1


def test_sequence_numbers_wrap_around() -> None:
    jb = JitterBuffer(depth=2)
    for seq in (65534, 65535, 0, 1):
        jb.push(_pkt(seq, payload=seq.to_bytes(4, "big")))
    assert _drain(jb, 4) == [65534, 65535, 0, 1]
    assert jb.stats.lost == 0


def test_an_underrun_refills_and_a_new_ssrc_restarts_the_stream() -> None:
    jb = JitterBuffer(depth=2)
    for seq in (1, 2):
        jb.push(_pkt(seq))
    assert _drain(jb, 3) == [1, 2, None]
    assert jb.stats.underruns == 1 and jb.stats.lost == 0  # a pause is not loss
    for seq in (900, 901):
        jb.push(_pkt(seq, ssrc=8))  # another sender (a new stream)
    assert _drain(jb, 2) == [900, 901]


def test_a_sender_far_ahead_of_playout_is_caught_up() -> None:
    jb = JitterBuffer(depth=2, max_frames=5)
    jb.push(_pkt(1))
    jb.push(_pkt(2))
    assert _drain(jb, 1) == [1]
    for seq in range(3, 12):
        jb.push(_pkt(seq))
    assert jb.stats.overflow > 0
    assert _drain(jb, 2) == [10, 11]  # back to `depth` frames of delay


def _event(digit: int, seq: int, ts: int, *, duration: int, end: bool = False,
           marker: bool = False, ssrc: int = 1) -> RtpPacket:
    payload = bytes([digit, (0x80 if end else 0) | 10]) + duration.to_bytes(2, "big")
    return RtpPacket(101, seq, ts, ssrc, payload, marker)


def _press(rx: DtmfReceiver, digit: int, seq: int, ts: int) -> list[str]:
    """One key press as phones send it: start, updates, the end packet three times."""
    pkts = [_event(digit, seq, ts, duration=0, marker=True)]
    pkts += [_event(digit, seq + i, ts, duration=160 * i) for i in (1, 2, 3)]
    pkts += [_event(digit, seq + 4, ts, duration=640, end=True)] * 3
    return [d for p in pkts if (d := rx.push(p)) is not None]


def test_one_digit_per_event_and_retransmitted_ends_count_once() -> None:
    rx = DtmfReceiver()
    assert _press(rx, 1, 100, 8000) == ["1"]
    assert _press(rx, 11, 110, 16000) == ["#"]
    assert _press(rx, 10, 120, 24000) == ["*"]
    assert rx.stats.digits == 3 and rx.stats.end_packets == 3 and rx.stats.repeated_ends == 6


def test_the_same_key_twice_is_two_digits_and_a_lost_start_still_counts() -> None:
    rx = DtmfReceiver()
    assert _press(rx, 5, 1, 800) + _press(rx, 5, 10, 1600) == ["5", "5"]
    # Only the end packets of a press arrived.
    assert rx.push(_event(7, 30, 4000, duration=640, end=True)) == "7"
    assert rx.push(_event(7, 30, 4000, duration=640, end=True)) is None


def test_a_replayed_capture_with_the_same_timestamp_is_a_new_press() -> None:
    rx = DtmfReceiver()  # sipp's play_pcap_audio resends a capture's own timestamps
    assert _press(rx, 2, 50, 13280) == ["2"]
    assert _press(rx, 2, 60, 13280) == ["2"]


def test_a_long_press_continued_under_a_new_timestamp_is_one_digit() -> None:
    rx = DtmfReceiver()
    assert rx.push(_event(9, 1, 1000, duration=0, marker=True)) == "9"
    assert rx.push(_event(9, 2, 1000, duration=65535)) is None
    assert rx.push(_event(9, 3, 66535, duration=160)) is None  # no marker: same press
    assert rx.push(_event(9, 4, 66535, duration=320, end=True)) is None
    assert rx.push(_event(99, 5, 70000, duration=0, marker=True)) is None  # not a key
    assert rx.stats.digits == 1


OFFER = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 9 8 0 96\r\na=rtpmap:9 G722/8000\r\na=rtpmap:96 telephone-event/8000\r\n"
    "a=fmtp:96 0-16\r\na=sendrecv\r\n"
)


def test_the_answer_takes_the_offerers_first_g711_and_their_dtmf_payload_type() -> None:
    n = negotiate(parse_offer(OFFER.encode()))
    assert (n.codec, n.payload_type, n.dtmf_payload_type) == ("PCMA", 8, 96)
    assert n.remote == ("10.0.0.5", 40000) and n.sends
    sdp = LocalSdp("127.0.0.1", 20000).answer(n).decode()
    assert "m=audio 20000 RTP/AVP 8 96\r\n" in sdp and "a=rtpmap:96 telephone-event/8000" in sdp
    assert "c=IN IP4 127.0.0.1" in sdp and "a=ptime:20" in sdp


def test_an_unchanged_answer_is_byte_identical_and_a_hold_gets_a_new_version() -> None:
    local = LocalSdp("127.0.0.1", 20000)
    n = negotiate(parse_offer(OFFER.encode()))
    first = local.answer(n)
    assert local.answer(n) == first
    held = negotiate(parse_offer(OFFER.replace("sendrecv", "sendonly").encode()))
    again = local.answer(held).decode()
    assert "a=recvonly" in again and f" {local.session_id} 2 IN IP4" in again and not held.sends


def test_offers_without_g711_or_unreadable_are_refused() -> None:
    with pytest.raises(NoCommonCodec, match="G722"):
        negotiate(parse_offer(OFFER.replace("9 8 0 96", "9").encode()))
    with pytest.raises(NoCommonCodec):
        negotiate(parse_offer(OFFER.replace("m=audio 40000", "m=audio 0").encode()))
    with pytest.raises(NoCommonCodec, match="no audio"):
        parse_offer(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 96\r\n")
    with pytest.raises(SdpError):
        parse_offer(b"v=0\r\nm=audio 5000 RTP/AVP 0\r\n")  # no address
    # Static payload types need no rtpmap.
    assert negotiate(parse_offer(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\n")
                     ).codec == "PCMU"


async def test_output_paces_out_clears_on_barge_in_and_reports_playout() -> None:
    out = SipAudioOutput(8000, max_buffer_ms=100.0)
    tone = AudioFrame(np.full(16000 // 10, 1000, dtype=np.int16), 16000)  # 100 ms at 16 kHz
    await out.capture_frame(tone)
    assert out.queued_ms == pytest.approx(100.0, abs=1.0)  # resampled to 8 kHz
    done = asyncio.ensure_future(out.wait_for_playout())
    first = out.take(160)
    assert first is not None and len(first) == 160
    assert out.played_ms == 20.0 and not done.done()
    blocked = asyncio.ensure_future(out.capture_frame(tone))  # over max_buffer_ms: waits
    await asyncio.sleep(0.01)
    assert not blocked.done()
    out.clear()  # barge-in: everything queued is dropped, waiters released
    await asyncio.wait_for(asyncio.gather(done, blocked), 1.0)
    assert out.played_ms == 20.0
    assert out.take(160) is None
    out.enabled = False  # listen-only: captured audio is dropped
    out.clear()
    await out.capture_frame(tone)
    assert out.queued_ms == 0.0
