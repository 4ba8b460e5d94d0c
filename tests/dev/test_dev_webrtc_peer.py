"""BrowserPeer: a WebRTC peer's audio reaches the agent, the agent's audio reaches the peer."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.local import LocalRoom
from callcenter.rooms.webrtc import BrowserPeer, SignalingError
from tests.dev.client import ClientPeer, dominant_hz, loud, tone


async def _agent_hears(room: LocalRoom, identity: str, seconds: float) -> np.ndarray:
    got: list[np.ndarray] = []
    deadline = time.monotonic() + 10
    async for frame in room.audio_stream(identity, 16000):
        if loud(frame.samples):
            got.append(frame.samples)
        if sum(map(len, got)) >= 16000 * seconds or time.monotonic() > deadline:
            break
    return np.concatenate(got) if got else np.zeros(0, np.int16)


async def test_browser_tone_reaches_agent_and_agent_tone_reaches_browser() -> None:
    room = LocalRoom("webrtc-peer")
    peer = BrowserPeer(room, "browser", ParticipantKind.CALLER)
    client = ClientPeer()
    try:
        await client.connect(peer.answer)
        assert [p.identity for p in room.participants()] == ["browser"]
        client.mic.play(tone(2.0, 440))
        heard = await asyncio.wait_for(_agent_hears(room, "browser", 0.5), 15)
        assert len(heard) >= 8000, "the agent got the browser's audio"
        assert abs(dominant_hz(heard, 16000) - 440) < 15

        start = len(client.heard)
        await room.audio_output.capture_frame(AudioFrame(tone(1.0, 600, 16000), 16000))
        got = await client.wait_heard(lambda s: loud(s[-4800:]), 10, "the agent's tone",
                                      since=start)
        assert abs(dominant_hz(got[-4800:]) - 600) < 15
    finally:
        await client.aclose()
        await peer.aclose()
        room.close()
    assert peer.closed and not room.participants()


async def test_closing_the_browser_side_makes_the_participant_leave() -> None:
    room = LocalRoom("webrtc-leave")
    closed: list[BrowserPeer] = []
    peer = BrowserPeer(room, "browser", ParticipantKind.CALLER, on_closed=closed.append)
    client = ClientPeer()
    await client.connect(peer.answer)
    client.mic.play(tone(0.5, 440))
    await asyncio.sleep(0.5)
    await client.aclose()
    for _ in range(200):
        if closed:
            break
        await asyncio.sleep(0.05)
    assert closed == [peer] and not room.participants()
    room.close()


async def test_an_offer_without_audio_is_refused_in_words() -> None:
    room = LocalRoom("webrtc-bad")
    with pytest.raises(SignalingError, match="no audio"):
        await BrowserPeer(room, "b", ParticipantKind.CALLER).answer("v=0\r\n")
    room.close()
