"""`bench voice --room livekit`: each call's audio through `livekit.rtc`, loopback, no server.

Caller -> agent: the caller's frames, at 48 kHz as a LiveKit participant's decoded audio
is, go into an `rtc.AudioSource` published as a `LocalAudioTrack`; the agent hears that
track through `track_frames`, the production `rtc.AudioStream` path with the SDK's
resampler down to the rate the agent asks for (what `LiveKitRoom.audio_stream` runs).
Agent -> caller: the agent speaks through the production `LiveKitAudioOutput` into an
`rtc.AudioSource` at `OUTPUT_RATE` on an "agent-voice" track, as `LiveKitRoom` publishes
it; the caller hears that track through another `rtc.AudioStream` at the phone rate.

What a server adds (Opus, the network, jitter buffers) is not here; what a worker process
pays per call for `livekit.rtc` media (native sources, streams, the FFI events per frame,
resampling) is, twice over: the far end's source and stream run in the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from livekit import rtc

from callcenter.audio.frame import AudioFrame
from callcenter.bench.rooms import CallerEar, RelayRoom, restamped
from callcenter.rooms.livekit import OUTPUT_RATE
from callcenter.rooms.livekit_audio import LiveKitAudioOutput, closing_frames, track_frames
from callcenter.rooms.local import LocalRoom

CALLER_SOURCE_RATE = 48000  # what an AudioStream gets from a remote participant's Opus track
PHONE_RATE = 8000  # the caller's ear: a phone line


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

    def __init__(self, local: LocalRoom) -> None:
        self.local = local
        self.ear = CallerEar(local)
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
        async with closing_frames(track_frames(self._agent_track, PHONE_RATE)) as frames:
            async for frame in frames:
                await self.ear.hear(frame)

    def hear_caller(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        frames = self._caller_frames(identity, sample_rate)
        self._heard.append(frames)
        return frames

    async def _caller_frames(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        mic = rtc.AudioSource(CALLER_SOURCE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track(identity, mic)
        speaking = asyncio.get_running_loop().create_task(self._speak(identity, mic))
        offset: float | None = None
        try:
            async with closing_frames(track_frames(track, sample_rate)) as frames:
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
            await mic.aclose()

    async def _speak(self, identity: str, mic: rtc.AudioSource) -> None:
        """The caller's microphone: what they send in the local room, into the source."""
        async for f in self.local.audio_stream(identity, CALLER_SOURCE_RATE):
            n = len(f.samples)
            if n:
                await mic.capture_frame(rtc.AudioFrame(f.to_bytes(), CALLER_SOURCE_RATE, 1, n))

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
        await self._agent_source.aclose()
