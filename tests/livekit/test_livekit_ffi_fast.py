"""Captures and resampling through FFI requests that keep the GIL (`capture_samples`,
`NativeResampler`, `livekit_ffi_buffers.request`): the same native work as the SDK's
`AudioSource.capture_frame` and `AudioResampler.push`, the same results.

Real native sources, tracks and streams (loopback, no server), real time.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from callcenter.rooms.livekit_audio import (
    NativeAudioStream,
    NativeResampler,
    capture_samples,
    track_frames,
)
from callcenter.rooms.livekit_ffi import install_routed_queue
from callcenter.rooms.livekit_ffi_buffers import request


def _tone(n: int, rate: int, hz: float = 440.0) -> np.ndarray:
    t = np.arange(n) / rate
    return (8000 * np.sin(2 * np.pi * hz * t) + 1).astype(np.int16)  # never exactly 0


async def test_captured_samples_are_heard_exactly_and_the_source_keeps_its_books() -> None:
    rate = 16000
    src = rtc.AudioSource(rate, 1)
    track = rtc.LocalAudioTrack.create_audio_track("t", src)
    stream = NativeAudioStream(track, rate, 20)
    tone = _tone(rate * 300 // 1000, rate)
    await capture_samples(src, tone[:1600])
    assert src.queued_duration > 0.05  # the SDK's own bookkeeping, as capture_frame keeps it
    await asyncio.gather(capture_samples(src, tone[1600:3200]),
                         capture_samples(src, tone[3200:]))
    await src.wait_for_playout()
    heard: list[np.ndarray] = []
    while sum(len(c) for c in heard) < 2 * len(tone):
        chunk = await asyncio.wait_for(stream.next_chunk(), 2.0)
        assert chunk is not None
        heard.append(chunk)
    pcm = np.concatenate(heard)
    start = int(np.flatnonzero(pcm)[0])  # the source played silence before the first capture
    assert np.array_equal(pcm[start : start + len(tone)], tone)
    await stream.aclose()
    await src.aclose()


async def test_a_capture_subscribes_nothing_and_leaves_no_route() -> None:
    routed = install_routed_queue()
    src = rtc.AudioSource(24000, 1)
    subscribers = len(routed._entries)
    routes = set(routed._routes)
    await asyncio.gather(*(capture_samples(src, _tone(480, 24000)) for _ in range(10)))
    assert len(routed._entries) == subscribers
    assert set(routed._routes) == routes
    await capture_samples(src, np.zeros(0, dtype=np.int16))  # nothing to send: no request
    await src.aclose()
    await capture_samples(src, _tone(480, 24000))  # a closed source: dropped, as the SDK does


async def test_native_resampler_gives_what_the_sdk_resampler_gives() -> None:
    sdk = rtc.AudioResampler(8000, 24000, num_channels=1)
    ours = NativeResampler(8000, 24000)
    rng = np.random.default_rng(3)
    got_sdk, got_ours = [], []
    for n in (160, 160, 80, 240, 160, 1, 160):
        pcm = (rng.standard_normal(n) * 3000).astype(np.int16)
        for f in sdk.push(rtc.AudioFrame(pcm.tobytes(), 8000, 1, n)):
            got_sdk.append(np.frombuffer(f.data, dtype=np.int16).copy())
        got_ours.append(ours.push(pcm))
    a, b = np.concatenate(got_sdk), np.concatenate(got_ours)
    assert len(b) > 1000 and len(a) == len(b)  # the filter holds some back
    # sox dithers its int16 output (two SDK resamplers differ by as much): the same filter.
    diff = np.abs(a.astype(np.int32) - b)
    assert diff.max() <= 4 and np.abs(a).mean() > 1000
    assert len(ours.push(np.zeros(0, dtype=np.int16))) == 0


def test_a_request_the_ffi_refuses_raises() -> None:
    req = proto_ffi.FfiRequest()
    cap = req.capture_audio_frame
    cap.source_handle = 987654321  # no such source
    cap.buffer.data_ptr, cap.buffer.sample_rate = 0, 16000
    cap.buffer.num_channels, cap.buffer.samples_per_channel = 1, 0
    with pytest.raises(RuntimeError, match="refused"):
        request(req)


async def test_twenty_ms_native_frames_come_through_whole_and_in_time_order() -> None:
    src = rtc.AudioSource(16000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("t", src)
    frames = track_frames(track, 16000)  # 20 ms native frames: each one yielded as it is
    tone = _tone(3200, 16000)
    got: list[np.ndarray] = []
    stamps: list[float] = []

    async def read() -> None:
        async for f in frames:
            got.append(f.samples)
            stamps.append(f.timestamp_ms)
            if len(got) == 30:
                break

    reader = asyncio.get_running_loop().create_task(read())
    await asyncio.sleep(0.05)
    await capture_samples(src, tone)
    await asyncio.wait_for(reader, 5)
    await frames.aclose()  # type: ignore[attr-defined]
    assert all(len(s) == 320 for s in got) and stamps == [20.0 * i for i in range(30)]
    pcm = np.concatenate(got)
    start = int(np.flatnonzero(pcm)[0])
    assert np.array_equal(pcm[start : start + len(tone)], tone)
    await src.aclose()
