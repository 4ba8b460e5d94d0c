"""LocalRoom: paced audio in and out, clear() for barge-in, events, virtual time."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.base import (
    DataReceived,
    DtmfReceived,
    ParticipantJoined,
    ParticipantKind,
    ParticipantLeft,
    RoomClosed,
    RoomEvent,
)
from callcenter.rooms.clock import RealClock, VirtualClock
from callcenter.rooms.local import LocalRoom


async def test_caller_audio_reaches_agent_stream_in_20ms_frames_at_media_times(
    clock: VirtualClock,
) -> None:
    room = LocalRoom(clock=clock)
    caller = room.join("caller", sample_rate=8000)
    stream = room.audio_stream("caller", 8000)
    await clock.sleep(0.1)
    tone = np.full(8000 // 2, 1000, dtype=np.int16)  # 500 ms
    start = caller.push_audio(tone)
    frames: list[AudioFrame] = []
    async for f in stream:
        frames.append(f)
        if f.timestamp_ms >= start + 600:
            break
    voiced = [f for f in frames if f.samples.any()]
    assert len(voiced) == 25
    assert voiced[0].timestamp_ms == start
    assert all(len(f.samples) == 160 for f in frames)
    room.close()


async def test_agent_stream_is_resampled_to_the_requested_rate(clock: VirtualClock) -> None:
    room = LocalRoom(clock=clock)
    caller = room.join("caller", sample_rate=8000)
    stream = room.audio_stream("caller", 16000)
    caller.push_audio(np.full(1600, 3000, dtype=np.int16))
    total = 0
    async for f in stream:
        assert f.sample_rate == 16000
        total += len(f.samples)
        if total >= 16000 * 0.4:
            break
    room.close()


async def test_agent_output_plays_in_real_time_and_clear_stops_it(clock: VirtualClock) -> None:
    room = LocalRoom(clock=clock, output_rate=16000)
    heard: list[tuple[float, tuple[str, ...]]] = []
    room.join(
        "caller", sample_rate=16000, on_audio=lambda f, who: heard.append((f.timestamp_ms, who))
    )
    out = room.audio_output
    t0 = clock.now()
    # 1 s of audio: capture applies back-pressure, so capturing takes ~0.8 s of clock time.
    await out.capture_frame(AudioFrame(np.full(16000, 500, np.int16), 16000))
    assert clock.now() - t0 == pytest.approx(0.8, abs=0.05)
    assert out.queued_ms <= out.max_buffer_ms
    played_before = out.played_ms
    out.clear()
    assert out.queued_ms == 0
    await clock.sleep(0.1)
    assert out.played_ms == played_before  # nothing more left the speaker
    agent_ticks = [ts for ts, who in heard if "agent" in who]
    assert len(agent_ticks) == round(played_before / 20)
    room.close()


async def test_wait_for_playout_returns_when_audio_is_played(clock: VirtualClock) -> None:
    room = LocalRoom(clock=clock, output_rate=8000)
    out = room.audio_output
    await out.capture_frame(AudioFrame(np.ones(800, np.int16), 8000))  # 100 ms
    t0 = clock.now()
    await out.wait_for_playout()
    assert 0.08 <= clock.now() - t0 <= 0.13
    assert out.played_ms == pytest.approx(100)
    room.close()


async def test_events_dtmf_text_join_leave_and_hangup(clock: VirtualClock) -> None:
    room = LocalRoom(clock=clock)
    events: list[RoomEvent] = []
    room.on_event(events.append)
    caller = room.join("caller", ParticipantKind.CALLER, attributes={"sip.phoneNumber": "+1555"})
    texts: list[tuple[str, str, str]] = []
    sup = room.join("sup", ParticipantKind.SUPERVISOR, on_text=lambda *a: texts.append(a))
    caller.send_dtmf("4#")
    caller.send_text("hi")
    await room.send_text("suggestion", to=["sup"])
    sup.leave()
    stream = room.audio_stream("caller", 16000)
    await room.hangup()
    assert [type(e) for e in events] == [
        ParticipantJoined, ParticipantJoined, DtmfReceived, DtmfReceived, DataReceived,
        ParticipantLeft, RoomClosed,
    ]
    assert [e.digit for e in events if isinstance(e, DtmfReceived)] == ["4", "#"]
    assert texts == [("agent", "lk.chat", "suggestion")]
    assert room.participants()[0].attributes["sip.phoneNumber"] == "+1555"
    assert [f async for f in stream] == []
    with pytest.raises(ValueError, match="DTMF"):
        caller.send_dtmf("x")


async def test_supervisor_hears_agent_and_caller_mixed(clock: VirtualClock) -> None:
    room = LocalRoom(clock=clock, output_rate=8000)
    caller = room.join("caller", sample_rate=8000)
    mixes: list[tuple[str, ...]] = []
    room.join("sup", ParticipantKind.SUPERVISOR, sample_rate=8000,
              on_audio=lambda f, who: mixes.append(who))
    caller.push_audio(np.full(800, 100, np.int16))
    await room.audio_output.capture_frame(AudioFrame(np.full(800, 100, np.int16), 8000))
    await clock.sleep(0.2)
    assert ("caller", "agent") in mixes
    room.close()


async def test_listen_only_drops_agent_audio(clock: VirtualClock) -> None:
    room = LocalRoom(clock=clock, output_rate=8000)
    heard: list[tuple[str, ...]] = []
    room.join("caller", sample_rate=8000, on_audio=lambda f, who: heard.append(who))
    await room.set_listen_only(True)
    await room.audio_output.capture_frame(AudioFrame(np.full(800, 100, np.int16), 8000))
    await clock.sleep(0.2)
    assert all("agent" not in w for w in heard)
    room.close()


async def test_virtual_clock_runs_a_minute_of_room_time_fast(clock: VirtualClock) -> None:
    room = LocalRoom(clock=clock)
    room.join("caller", sample_rate=8000)
    t = time.perf_counter()
    await clock.sleep(60)
    assert time.perf_counter() - t < 2.0
    assert room.next_frame_ms() == pytest.approx(60000, abs=40)
    room.close()


async def test_real_clock_paces_frames_in_real_time() -> None:
    clock = RealClock()
    room = LocalRoom(clock=clock)
    room.join("caller", sample_rate=8000)
    stream = room.audio_stream("caller", 8000)
    t = time.perf_counter()
    n = 0
    async for _ in stream:
        n += 1
        if n == 10:
            break
    assert 0.17 <= time.perf_counter() - t <= 0.4
    room.close()
    await asyncio.sleep(0.03)
