"""A SIP call's media figures reach its record: RtpSession.report and the dev recorder tap."""

from __future__ import annotations

from callcenter.callsession.recorder import MemoryRecorder
from callcenter.dev.handler import TappedRecorder
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.sip.media import RtpSession
from callcenter.rooms.sip.rtp import RtpPacket
from callcenter.rooms.sip.sdp import Negotiated
from callcenter.voice.events import Utterance


def test_report_counts_what_the_jitter_buffer_received_lost_and_played() -> None:
    rtp = RtpSession(VirtualClock(), Negotiated("PCMU", 0, 101, ("127.0.0.1", 9), "sendrecv"),
                     on_dtmf=lambda _d: None)
    for seq in (1, 2, 4, 5):  # 3 never comes
        rtp.datagram_received(RtpPacket(0, seq, seq * 160, 7, b"\xff" * 160).to_bytes(),
                              ("127.0.0.1", 9))
    rtp.datagram_received(b"not rtp", ("127.0.0.1", 9))
    for _ in range(5):
        rtp._play_one()
    report = rtp.report()
    assert report["codec"] == "PCMU" and report["packets_in"] == 4 and report["ignored_in"] == 1
    assert (report["jitter_received"], report["jitter_played"], report["jitter_lost"]) == (4, 4, 1)
    assert report["late_ticks"] == 0 and report["dtmf_digits"] == 0


async def test_the_dev_recorder_adds_the_phone_lines_figures_to_the_closing_metrics() -> None:
    inner = MemoryRecorder()
    heard: list[str] = []
    figures = {"dev-1": {"jitter_lost": 2}}
    tapped = TappedRecorder(inner, "dev-1", lambda _c, u: heard.append(u.text), figures.get)
    await tapped.utterance(0, Utterance(role="caller", identity="c", text="hi", start_ms=0,
                                        end_ms=1))
    await tapped.call_ended("ended", "completed", {"turns": []}, {})
    assert heard == ["hi"] and inner.metrics == {"turns": [], "rtp": {"jitter_lost": 2}}
    browser = MemoryRecorder()  # a browser call has no phone line: metrics unchanged
    await TappedRecorder(browser, "dev-2", lambda _c, _u: None, figures.get).call_ended(
        "ended", "completed", {"turns": []}, {})
    assert browser.metrics == {"turns": []}
