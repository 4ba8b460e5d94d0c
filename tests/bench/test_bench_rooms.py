"""`bench voice --room`: a bench call's audio really crosses the media path of its mode.

Real time (livekit.rtc's loopback and RTP pace themselves on the wall clock), two calls of
two turns each per mode: every caller line is answered with agent audio the caller heard,
and the voice session measured every turn. No timing is asserted.
"""

from __future__ import annotations

import asyncio

import pytest

from callcenter.bench.harness import REALISTIC, BenchCall, CallResult, measure, script_for
from callcenter.bench.rooms import RelayRoom, check_room_mode
from callcenter.bench.rooms_livekit import LiveKitLine
from callcenter.bench.rooms_sip import SipLine
from callcenter.rooms.clock import RealClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.voices import CallerVoice

TURNS = 2


async def _run(mode: str) -> tuple[list[BenchCall], list[CallResult]]:
    voice = CallerVoice("espeak", "phone")
    clock = RealClock()
    calls = [
        BenchCall(clock, voice, script_for(TURNS, 0, seed=i, pause=(0.3, 0.5)),
                  latencies=REALISTIC, room_mode=check_room_mode(mode))
        for i in range(2)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(c.run() for c in calls)), 60)
    return calls, results


def _assert_heard_and_measured(results: list[CallResult]) -> None:
    for r in results:
        assert len(r.report.said) == TURNS
        # Every line was answered: agent audio the caller heard after the line ended.
        for line in r.report.said:
            assert any(a.start_ms > line.speech_end_ms for a in r.report.agent), line
        assert len(r.report.agent) >= TURNS
        # The agent heard every line (its own turn metrics) and its frames kept coming.
        answered = [t for t in r.turns if t.e2e_ms is not None]
        assert len(answered) == TURNS
        assert r.frames > 100
    m = measure(results)
    assert m.failed_calls == 0
    assert len(m.turn_overhead_ms) == TURNS * len(results)


def test_livekit_room_caller_and_agent_hear_each_other_through_rtc_streams() -> None:
    calls, results = asyncio.run(_run("livekit"))
    for c in calls:
        # The agent's room is the rtc relay, not the caller's local room.
        assert isinstance(c.line, LiveKitLine)
        assert isinstance(c.line.agent_room, RelayRoom)
        assert c.call.s.room is c.line.agent_room
        # The agent spoke into its livekit source (what LiveKitAudioOutput counts).
        assert c.line.output.played_ms > 0
    _assert_heard_and_measured(results)


def test_sip_room_caller_and_agent_exchange_rtp_over_udp() -> None:
    calls, results = asyncio.run(_run("sip"))
    for c in calls:
        assert isinstance(c.line, SipLine)
        assert isinstance(c.line.agent_room, LocalRoom)
        assert c.line.agent_room is not c.room
        media = c.line.sip.media
        # Packets both ways on the agent's RTP socket, decoded through its jitter buffer.
        assert media.stats.packets_in > 100 and media.stats.packets_out > 100
        assert media.jitter.stats.played > 100
    _assert_heard_and_measured(results)


def test_unknown_room_mode_says_which_exist() -> None:
    with pytest.raises(ValueError, match="local, livekit, sip"):
        check_room_mode("webrtc")
