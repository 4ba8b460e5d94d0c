"""LiveKitRoom on the offline parts of livekit.rtc: events of an unconnected room, loopback."""

from __future__ import annotations

import asyncio

import numpy as np
from livekit import rtc
from livekit.rtc._proto import participant_pb2 as pp

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
from callcenter.rooms.livekit import LiveKitRoom
from callcenter.rooms.livekit_audio import LiveKitAudioOutput


def remote(identity: str, kind: int, **attrs: str) -> rtc.RemoteParticipant:
    owned = pp.OwnedParticipant()
    owned.info.identity, owned.info.kind = identity, kind  # type: ignore[assignment]
    owned.info.attributes.update(attrs)
    return rtc.RemoteParticipant(owned)


def tone(hz: float, ms: float, rate: int) -> AudioFrame:
    t = np.arange(int(rate * ms / 1000)) / rate
    return AudioFrame((np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16), rate)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / len(samples))


async def test_sip_caller_joins_as_caller_with_its_numbers_and_events_map() -> None:
    lk = LiveKitRoom(rtc.Room(), name="call-1", identity="agent-call-1")
    seen: list[RoomEvent] = []
    lk.on_event(seen.append)
    caller = remote(
        "sip_+1555",
        pp.ParticipantKind.PARTICIPANT_KIND_SIP,
        **{"sip.phoneNumber": "+15551230000", "sip.trunkPhoneNumber": "+18005550100"},
    )
    boss = remote(
        "sup-1", pp.ParticipantKind.PARTICIPANT_KIND_STANDARD, **{"callcenter.role": "supervisor"}
    )
    lk.rtc.emit("participant_connected", caller)
    lk.rtc.emit("participant_connected", boss)
    lk.rtc.emit("sip_dtmf_received", rtc.SipDTMF(code=5, digit="5", participant=caller))
    lk.rtc.emit("data_received", rtc.DataPacket(b"hi", 0, boss, "lk.chat"))  # type: ignore[arg-type]
    lk.rtc.emit("participant_disconnected", caller)
    lk.rtc.emit("disconnected", "ROOM_DELETED")
    joined = seen[0]
    assert isinstance(joined, ParticipantJoined)
    assert joined.participant.kind == ParticipantKind.CALLER
    assert joined.participant.attributes["sip.trunkPhoneNumber"] == "+18005550100"
    assert isinstance(seen[1], ParticipantJoined)
    assert seen[1].participant.kind == ParticipantKind.SUPERVISOR
    assert seen[2] == DtmfReceived("sip_+1555", "5")
    assert seen[3] == DataReceived("sup-1", "lk.chat", b"hi")
    assert isinstance(seen[4], ParticipantLeft) and seen[4].participant.identity == "sip_+1555"
    assert isinstance(seen[5], RoomClosed) and "ROOM_DELETED" in seen[5].reason
    await lk.aclose()


async def test_caller_audio_is_streamed_resampled_for_stt() -> None:
    lk = LiveKitRoom(rtc.Room(), name="call-2", identity="agent")
    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("caller-mic", source)
    caller = remote("sip_1", pp.ParticipantKind.PARTICIPANT_KIND_SIP)
    frames: list[AudioFrame] = []

    async def read() -> None:
        async for f in lk.audio_stream("sip_1", 16000):
            frames.append(f)
            if sum(len(x.samples) for x in frames) >= 16000 * 0.3:
                return

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.05)
    lk.rtc.emit("track_subscribed", track, None, caller)  # the stream waits for this
    sent = tone(700, 600, 48000)
    for i in range(0, len(sent.samples), 480):
        chunk = sent.samples[i : i + 480]
        await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), 48000, 1, len(chunk)))
    await asyncio.wait_for(reader, 5)
    assert all(f.sample_rate == 16000 and len(f.samples) == 320 for f in frames)
    assert [f.timestamp_ms for f in frames[:3]] == [0.0, 20.0, 40.0]
    got = np.concatenate([f.samples for f in frames])[-3200:]
    assert abs(peak_hz(got, 16000) - 700) < 20
    await source.aclose()
    await lk.aclose()


async def test_agent_output_queues_in_real_time_and_clear_drops_the_rest() -> None:
    source = rtc.AudioSource(24000, 1, queue_size_ms=2000)
    out = LiveKitAudioOutput(source)
    await out.capture_frame(tone(440, 500, 16000))  # resampled 16 kHz -> 24 kHz
    assert 300 < out.queued_ms <= 500
    await asyncio.sleep(0.2)
    played = out.played_ms
    assert 100 < played < 400
    out.clear()
    assert out.queued_ms == 0
    assert abs(out.played_ms - played) < 60  # what was cleared never counts as heard
    await source.aclose()


async def test_listen_only_silences_the_agent() -> None:
    lk = LiveKitRoom(rtc.Room(), name="call-3", identity="agent")
    await lk.set_listen_only(True)
    await lk.audio_output.capture_frame(tone(440, 200, 24000))
    assert lk.audio_output.queued_ms == 0
    await lk.aclose()
