"""`bench voice --room livekit`: each call's audio through `livekit.rtc`, loopback, no server.

Caller -> agent: the caller's frames, at 48 kHz as a LiveKit participant's decoded audio
is, go into an `rtc.AudioSource` published as a `LocalAudioTrack`; the agent hears that
track through `track_frames`, the production native audio stream with the SDK's
resampler down to the rate the agent asks for (what `LiveKitRoom.audio_stream` runs).
Agent -> caller: the agent speaks through the production `LiveKitAudioOutput` into an
`rtc.AudioSource` at `OUTPUT_RATE` on an "agent-voice" track, as `LiveKitRoom` publishes
it; the caller hears that track through another `rtc.AudioStream` at the phone rate.

What a server adds (Opus, the network, jitter buffers) is not here. What a worker process
pays per call for `livekit.rtc` media is: the agent's own output source and its input
stream run the production code at production settings (20 ms native frames in, the
gathering `LiveKitAudioOutput` out). The far end (the caller's mic source and the stream
the caller hears through) is the server's work in production, but a loopback track cannot
cross a process, so it stays here and is made as cheap as the SDK allows: the mic is fed
in 100 ms pieces and the ear reads 100 ms native frames. Its latency is only in `path_ms`
(measured, then subtracted); its cost is still counted against the worker: one more
source thread and one more stream per call, and each loopback track starts its own WebRTC
factory (3 threads), where a connected room's tracks share one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import numpy as np
from livekit import rtc

from callcenter.audio.frame import AudioFrame
from callcenter.bench.rooms import CallerEar, RelayRoom, restamped
from callcenter.rooms.base import Participant
from callcenter.rooms.livekit import OUTPUT_RATE
from callcenter.rooms.livekit_audio import (
    LiveKitAudioOutput,
    NativeAudioStream,
    capture_samples,
    closing_frames,
    track_frames,
)
from callcenter.rooms.livekit_ffi import install_routed_queue
from callcenter.rooms.local import LocalRoom

CALLER_SOURCE_RATE = 48000  # what an AudioStream gets from a remote participant's Opus track
PHONE_RATE = 8000  # the caller's ear: a phone line
MIC_CHUNK_MS = 100  # the caller's audio goes into their source this much at a time
MIC_LEAD_MS = 200  # queued ahead of it: the source still holds >= 100 ms when a piece goes in
EAR_FRAME_MS = 100  # the caller's ear takes the agent's voice this much at a time


def _settled(in_flight: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    """A capture task's end: forgotten, its failure read (a capture still in flight when
    the call ends and its source closes fails; that is not an error of the bench)."""
    def done(task: asyncio.Task[None]) -> None:
        in_flight.discard(task)
        if not task.cancelled():
            task.exception()
    return done


class _AgentRoom(RelayRoom):
    """What the agent sees: the caller's room, its audio only through `livekit.rtc`."""

    def __init__(self, line: LiveKitLine) -> None:
        super().__init__(line.local)
        self._line = line

    @property
    def audio_output(self) -> LiveKitAudioOutput:
        return self._line.output

    def audio_stream(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        return self._line.hear_caller(identity, sample_rate)

    async def set_listen_only(self, listen_only: bool) -> None:
        # As `LiveKitRoom` does with its own output (there is no server to unpublish on).
        self._line.output.enabled = not listen_only
        if listen_only:
            self._line.output.clear()


class LiveKitLine:
    """Both directions of one bench call through `livekit.rtc` (see module doc)."""

    def __init__(self, local: LocalRoom, caller: Participant) -> None:
        self.local = local
        self.ear = CallerEar(local)
        # Every native object is made here, before any call of a step starts: making one
        # (a track starts its own WebRTC threads) holds the loop for milliseconds, and a
        # stream that starts behind catches up in a burst its call's timing never forgets.
        install_routed_queue()  # as the worker does (`connect_livekit_room`)
        self._caller = caller.identity
        self._mic = rtc.AudioSource(CALLER_SOURCE_RATE, 1)
        self._mic_track = rtc.LocalAudioTrack.create_audio_track(caller.identity, self._mic)
        self._agent_source = rtc.AudioSource(OUTPUT_RATE, 1)
        self._agent_track = rtc.LocalAudioTrack.create_audio_track(
            "agent-voice", self._agent_source)
        self.output = LiveKitAudioOutput(self._agent_source)
        self.agent_room = _AgentRoom(self)
        self._tasks: list[asyncio.Task[None]] = []
        self._heard: list[AsyncIterator[AudioFrame]] = []
        self._closed = False

    async def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._to_caller()))

    async def _to_caller(self) -> None:
        # Far end: whole native frames of `EAR_FRAME_MS`, not cut into 20 ms ones. A frame
        # with any of the agent's voice in it is played whole, the silence before the voice
        # included, so the caller hears the voice a constant delay after the source played it.
        stream = NativeAudioStream(self._agent_track, PHONE_RATE, EAR_FRAME_MS)
        t_ms = 0.0
        try:
            while (chunk := await stream.next_chunk()) is not None:
                frame = AudioFrame(chunk, PHONE_RATE, t_ms)
                t_ms = frame.end_ms
                await self.ear.hear(frame)
        finally:
            await stream.aclose()

    def hear_caller(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        frames = self._caller_frames(identity, sample_rate)
        self._heard.append(frames)
        return frames

    async def _caller_frames(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        if identity != self._caller:
            return  # a phone call has one caller; nobody else speaks on this line
        speaking = asyncio.get_running_loop().create_task(self._speak(identity, self._mic))
        offset: float | None = None
        try:
            async with closing_frames(track_frames(self._mic_track, sample_rate)) as frames:
                async for frame in frames:
                    if offset is None:
                        # The stream counts samples from 0; the source plays in real time
                        # (silence when nothing is queued), so pinning its first frame to
                        # now keeps it on the caller room's time line, behind by the path.
                        offset = self.local.now_ms() - frame.end_ms
                    yield restamped(frame, offset)
        finally:
            speaking.cancel()
            await asyncio.gather(speaking, return_exceptions=True)

    async def _speak(self, identity: str, mic: rtc.AudioSource) -> None:
        """The caller's microphone: what they send in the local room, into the source.

        This is the far end, not what is measured: it is fed in `MIC_CHUNK_MS` pieces
        through `capture_samples` (each an FFI request and a completion event), brought to
        48 kHz by linear interpolation in numpy (the SDK's resampler is an FFI request too),
        behind `MIC_LEAD_MS` of silence so that a stalled loop never lets the source run
        dry (a dry source plays silence and every later frame arrives that much later).
        The source plays in real time whatever the pieces, so the agent hears an even
        stream a constant delay behind the caller.
        """
        up = CALLER_SOURCE_RATE // PHONE_RATE
        # Linear interpolation weights of one input step (k / up for k in 1..up).
        weights = (np.arange(1, up + 1, dtype=np.float32) / up)[None, :]
        lead = np.zeros(CALLER_SOURCE_RATE * MIC_LEAD_MS // 1000, dtype=np.int16)
        await capture_samples(mic, lead)
        chunk = PHONE_RATE * MIC_CHUNK_MS // 1000
        pending: list[AudioFrame] = []
        queued = 0
        last = np.float32(0.0)
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Task[None]] = set()
        async for f in self.local.audio_stream(identity, PHONE_RATE):
            pending.append(f)
            queued += len(f.samples)
            if queued < chunk:
                continue
            pcm = np.concatenate([p.samples for p in pending]).astype(np.float32)
            pending, queued = [], 0
            # Linear interpolation from the previous piece's last sample: no seams.
            prev = np.concatenate(([last], pcm[:-1]))
            wide = (prev[:, None] + (pcm - prev)[:, None] * weights).astype(np.int16).ravel()
            last = pcm[-1]
            # Not awaited here: a capture's completion event can come 10-60 ms late on a
            # busy loop, and waiting for it before the next piece lets the source run dry.
            # Tasks start in order, so the pieces reach the source in order.
            task = loop.create_task(capture_samples(mic, wide))
            in_flight.add(task)
            task.add_done_callback(_settled(in_flight))
        await asyncio.gather(*in_flight, return_exceptions=True)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for frames in self._heard:
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(RuntimeError):  # still being read: its reader closes it
                    await aclose()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._mic.aclose()
        await self._agent_source.aclose()
