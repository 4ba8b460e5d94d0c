"""The agent's audio on LiveKit: a participant's track in as our frames, our frames out into
an `rtc.AudioSource` published as a local track.

Both directions live here so every user of `livekit.rtc` media (the production room, the
loopback bench) runs the same conversion code.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator

import numpy as np
from livekit import rtc
from livekit.rtc import _ffi_client as ffi
from livekit.rtc._proto import audio_frame_pb2 as proto_audio
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.rooms.base import AudioOutput
from callcenter.rooms.livekit_ffi import install_routed_queue
from callcenter.rooms.livekit_ffi_buffers import request, take_samples

FRAME_MS = 20  # what the voice pipeline takes
_STREAM_EVENT = "audio_stream_event"
_CAPTURE_EVENT = "capture_audio_frame"
_EOS_WAIT_S = 1.0
# Our own capture request ids: far above the FFI's handle ids (a counter from 1), so the
# completion can be routed before the request is sent.
_capture_ids = itertools.count(1 << 62)


async def capture_samples(source: rtc.AudioSource, pcm: PCM16) -> None:
    """`source.capture_frame` of mono int16 samples, with the SDK's per-capture Python cut.

    The same FFI request and the same bookkeeping in `source` (`queued_duration`,
    `wait_for_playout`, `clear_queue` keep working), but the request keeps the GIL
    (`livekit_ffi_buffers.request`), it names its own id so its completion event is
    routed straight here before it is sent (the SDK subscribes a filtered queue per
    capture, which every native event is offered to while the request runs), and the
    samples go to the FFI as they are (no `AudioFrame` copy). Returns, as the SDK's
    does, once the source has taken the samples into its queue.
    """
    n = len(pcm)
    if n == 0 or source._ffi_handle.disposed:
        return
    pcm = np.ascontiguousarray(pcm, dtype=np.int16)  # held until the FFI has copied it
    # As `rtc.AudioSource.capture_frame` keeps them (livekit 1.2.1, pinned).
    now = time.monotonic()
    elapsed = 0.0 if source._last_capture == 0.0 else now - source._last_capture
    source._q_size += n / source.sample_rate - elapsed
    source._last_capture = now
    if source._join_handle:
        source._join_handle.cancel()
    if source._join_fut is None:
        source._join_fut = source._loop.create_future()
    source._join_handle = source._loop.call_later(source._q_size, source._release_waiter)

    req = proto_ffi.FfiRequest()
    cap = req.capture_audio_frame
    cap.source_handle = source._ffi_handle.handle
    buf = cap.buffer
    buf.data_ptr = pcm.ctypes.data
    buf.sample_rate = source.sample_rate
    buf.num_channels = 1
    buf.samples_per_channel = n
    async_id = cap.request_async_id = next(_capture_ids)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()

    def on_done(event: proto_ffi.FfiEvent) -> None:
        if not done.done():
            done.set_result(event.capture_audio_frame.error)

    routed = install_routed_queue()
    routed.route(_CAPTURE_EVENT, async_id, loop, on_done)
    try:
        resp = request(req)
        if resp.capture_audio_frame.async_id != async_id:  # an FFI that ignores the id
            raise RuntimeError("livekit FFI did not take the capture's request_async_id")
        error = await done
    finally:
        routed.unroute(_CAPTURE_EVENT, async_id)
    if error:
        raise RuntimeError(error)


class NativeResampler:
    """The SDK's streaming resampler (`rtc.AudioResampler`, sox), pushed without the
    SDK's per-push Python: the request keeps the GIL and the output is copied once
    into an int16 array. One per stream (the filter keeps history)."""

    def __init__(self, input_rate: int, output_rate: int) -> None:
        self.input_rate, self.output_rate = input_rate, output_rate
        self._rs = rtc.AudioResampler(input_rate, output_rate, num_channels=1)

    def push(self, pcm: PCM16) -> PCM16:
        pcm = np.ascontiguousarray(pcm, dtype=np.int16)
        if not len(pcm):
            return pcm
        req = proto_ffi.FfiRequest()
        push = req.push_sox_resampler
        push.resampler_handle = self._rs._ffi_handle.handle
        push.data_ptr = pcm.ctypes.data
        push.size = 2 * len(pcm)
        out = request(req).push_sox_resampler
        if out.error:
            raise RuntimeError(out.error)
        if not out.output_ptr or not out.size:
            return np.zeros(0, dtype=np.int16)
        # The output belongs to the resampler until its next push: copied here.
        return np.frombuffer(ctypes.string_at(out.output_ptr, out.size), dtype=np.int16)


class LiveKitAudioOutput(AudioOutput):
    """Frames go into the source's queue (which paces them in real time); `clear()` drops it.

    Each capture is a native request and a completion event through the SDK's callback
    thread (~0.2-0.4 ms of GIL-held work in all), so once the source holds enough audio
    (`low_water_ms`) frames are gathered here and captured `chunk_ms` at a time. The
    first frames of an utterance, and any frame while the source is running low, go at
    once: the caller hears the agent no later than without gathering, and a timer sends
    what is gathered before the source could run dry, however slowly the TTS delivers.

    `played_ms` counts what actually left: everything captured, minus what is still queued
    (in the source or gathered here), minus what a `clear()` threw away.
    """

    def __init__(
        self, source: rtc.AudioSource, *, chunk_ms: float = 100.0, low_water_ms: float = 60.0
    ) -> None:
        self.source = source
        self.sample_rate = source.sample_rate
        self.chunk_ms = chunk_ms
        self.low_water_ms = low_water_ms
        self._captured_ms = 0.0
        self._resamplers: dict[int, NativeResampler] = {}
        self._gathered: list[PCM16] = []
        self._gathered_n = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self.enabled = True

    async def capture_frame(self, frame: AudioFrame) -> None:
        if not self.enabled:
            return  # listen-only: the agent is silent, its speech is dropped
        samples = frame.samples
        if frame.sample_rate != self.sample_rate:
            rs = self._resamplers.get(frame.sample_rate)
            if rs is None:
                rs = self._resamplers[frame.sample_rate] = NativeResampler(
                    frame.sample_rate, self.sample_rate)
            samples = rs.push(samples)
        n = len(samples)
        if n:
            self._gathered.append(samples)
            self._gathered_n += n
            self._captured_ms += 1000.0 * n / self.sample_rate
        if not self._gathered_n:
            return
        source_ms = 1000.0 * self.source.queued_duration
        if (source_ms < self.low_water_ms
                or 1000.0 * self._gathered_n / self.sample_rate >= self.chunk_ms):
            await self._flush()
        elif self._timer is None:
            # Send it before the source could run dry (less than low water left in it).
            self._timer = asyncio.get_running_loop().call_later(
                max(0.0, source_ms - self.low_water_ms) / 1000.0, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        if self._gathered_n and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._gathered_n:
            return
        pcm = self._gathered[0] if len(self._gathered) == 1 else np.concatenate(self._gathered)
        self._gathered, self._gathered_n = [], 0
        await capture_samples(self.source, pcm)

    def clear(self) -> None:
        self._captured_ms -= self.queued_ms
        self._gathered, self._gathered_n = [], 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.source.clear_queue()

    async def wait_for_playout(self) -> None:
        await self._flush()
        await self.source.wait_for_playout()

    @property
    def queued_ms(self) -> float:
        return 1000.0 * (self.source.queued_duration + self._gathered_n / self.sample_rate)

    @property
    def played_ms(self) -> float:
        return max(0.0, self._captured_ms - self.queued_ms)


class NativeAudioStream:
    """One native `AudioStream` of a track, read without the SDK's per-frame Python.

    The same FFI request as `rtc.AudioStream` (the SDK resamples to `sample_rate` and cuts
    `frame_ms` frames natively), but its events are routed straight to this object
    (`RoutedFfiQueue.route`: no filter, no task hop, one loop wake-up per batch) and each
    frame's buffer is copied and freed in one step (`livekit_ffi_buffers`).
    """

    def __init__(self, track: rtc.Track, sample_rate: int, frame_ms: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._chunks: deque[PCM16] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.ended = False
        self._closed = False
        req = proto_ffi.FfiRequest()
        new = req.new_audio_stream
        new.track_handle = track._ffi_handle.handle
        new.sample_rate = sample_rate
        new.num_channels = 1
        new.queue_size_frames = 0
        new.frame_size_ms = frame_ms
        new.type = proto_audio.AudioStreamType.AUDIO_STREAM_NATIVE
        self._routed = install_routed_queue()
        with self._routed.opening():
            resp = ffi.FfiClient.instance.request(req)
            self._handle = ffi.FfiHandle(resp.new_audio_stream.stream.handle.id)
            self._routed.route(_STREAM_EVENT, self._handle.handle, self._loop, self._on_event)

    def _on_event(self, event: proto_ffi.FfiEvent) -> None:
        ev = event.audio_stream_event
        if ev.HasField("frame_received"):
            self._chunks.append(take_samples(ev.frame_received.frame))
        elif ev.HasField("eos"):
            self.ended = True
            self._routed.unroute(_STREAM_EVENT, self._handle.handle)
        else:
            return
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_chunk(self) -> PCM16 | None:
        """The next native frame's samples; None once the stream has ended."""
        while not self._chunks:
            if self.ended:
                return None
            self._waiter = self._loop.create_future()
            await self._waiter
        return self._chunks.popleft()

    async def aclose(self) -> None:
        """Drop the native stream and wait (briefly) for its end, as `rtc.AudioStream` does:
        frames still in flight are freed as they come."""
        if self._closed:
            return
        self._closed = True
        self._handle.dispose()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_EOS_WAIT_S):
                while await self.next_chunk() is not None:
                    pass
        self._routed.unroute(_STREAM_EVENT, self._handle.handle)
        self._chunks.clear()


async def track_frames(
    track: rtc.Track, sample_rate: int, *, native_frame_ms: int = FRAME_MS
) -> AsyncIterator[AudioFrame]:
    """`track`'s audio as 20 ms mono frames at `sample_rate` (the SDK resamples).

    The native stream delivers `native_frame_ms` at a time (a multiple of 20): fewer,
    larger events across the FFI, each cut here into 20 ms frames (numpy views), at the
    cost of hearing the first of them `native_frame_ms - 20` ms later. Media times count
    samples from 0 at the first frame; the stream is closed when the iteration ends or is
    closed.
    """
    if native_frame_ms % FRAME_MS:
        raise ValueError(f"native_frame_ms must be a multiple of {FRAME_MS}, "
                         f"not {native_frame_ms}")
    stream = NativeAudioStream(track, sample_rate, native_frame_ms)
    n = sample_rate * FRAME_MS // 1000
    t_ms = 0.0
    pending: PCM16 | None = None
    try:
        while (chunk := await stream.next_chunk()) is not None:
            if pending is None and len(chunk) == n:  # the usual case: one frame, as it is
                yield AudioFrame(chunk, sample_rate, t_ms)
                t_ms += FRAME_MS
                continue
            if pending is not None:
                chunk = np.concatenate((pending, chunk))
            k = 0
            while len(chunk) - k >= n:
                yield AudioFrame(chunk[k : k + n], sample_rate, t_ms)
                t_ms += FRAME_MS
                k += n
            pending = chunk[k:] if k < len(chunk) else None
    finally:
        await stream.aclose()


@contextlib.asynccontextmanager
async def closing_frames(frames: AsyncIterator[AudioFrame]) -> AsyncIterator[
    AsyncIterator[AudioFrame]
]:
    """Close `frames` (and so its `rtc.AudioStream`) when the block ends, however it ends."""
    try:
        yield frames
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()
