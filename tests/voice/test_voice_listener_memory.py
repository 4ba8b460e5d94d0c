"""What a listener keeps per frame is nothing the garbage collector has to walk."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import numpy as np

from callcenter.audio.frame import AudioFrame
from callcenter.audio.vad import VADEvent
from callcenter.rooms.base import Participant, ParticipantKind
from callcenter.speech import Transcript
from callcenter.testing.fakes import FakeSTT, SpeechBoard
from callcenter.voice import VoiceSettings
from callcenter.voice.listener import ParticipantListener


class Sink:
    def __init__(self) -> None:
        self.starts: list[VADEvent] = []
        self.ended = asyncio.Event()

    def observe_frame(self, frame: AudioFrame) -> None: ...
    def on_speech_start(self, listener: ParticipantListener, ev: VADEvent) -> None:
        self.starts.append(ev)
    def on_speaking(self, listener: ParticipantListener, speech_ms: float) -> None: ...
    def on_speech_end(self, listener: ParticipantListener, ev: VADEvent) -> None: ...
    def on_transcript(self, listener: ParticipantListener, t: Transcript) -> None: ...
    def on_listener_ended(self, listener: ParticipantListener) -> None:
        self.ended.set()
    def on_listener_failed(self, listener: ParticipantListener, exc: Exception) -> None:
        raise exc


def _live_frames() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is AudioFrame)


async def test_the_pre_roll_ring_holds_no_frame_objects() -> None:
    # ~90 frames per speaker live ~2 s in the ring: as frame objects they were most of
    # what a full collection walked at 200 calls (a 60 ms stall every few seconds).
    rate = 8000
    rng = np.random.default_rng(3)
    noise = [(rng.standard_normal(160) * 20).astype(np.int16) for _ in range(150)]

    async def audio() -> AsyncIterator[AudioFrame]:
        for i, samples in enumerate(noise):
            yield AudioFrame(samples, rate, 20.0 * i)
        await asyncio.sleep(3600)  # the participant stays: the stream stays open

    sink = Sink()
    before = _live_frames()
    listener = ParticipantListener(
        sink, Participant("caller", ParticipantKind.CALLER), audio(),
        FakeSTT(SpeechBoard(), sample_rate=rate), VoiceSettings(input_rate=rate),
        sample_rate=rate, scorer=None)
    for _ in range(100):
        if listener.frames == len(noise):
            break
        await asyncio.sleep(0.001)
    assert listener.frames == len(noise)
    assert _live_frames() - before <= 2  # the one in flight at most, not the ring's 80+
    # The ring still gives the frames back, in order, with their media times.
    kept = listener._ring_since(20.0 * 100)
    assert [f.timestamp_ms for f in kept] == [20.0 * i for i in range(100, 150)]
    assert all(np.array_equal(f.samples, noise[100 + i]) for i, f in enumerate(kept))
    await listener.aclose()
