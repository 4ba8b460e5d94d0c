"""The lean `livekit.rtc` media path: routed, batched events; large native frames cut into
20 ms ones; the agent's output gathered into fewer captures without ever running dry.

Real native sources, tracks and streams (loopback, no server), real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest
from livekit import rtc
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from callcenter.audio.frame import AudioFrame
from callcenter.rooms import livekit_audio
from callcenter.rooms.livekit_audio import LiveKitAudioOutput, NativeAudioStream, track_frames
from callcenter.rooms.livekit_ffi import RoutedFfiQueue, install_routed_queue


def _stream_event(handle: int) -> proto_ffi.FfiEvent:
    e = proto_ffi.FfiEvent()
    e.audio_stream_event.stream_handle = handle
    return e


def _sdk_filter(handle: int) -> Callable[[proto_ffi.FfiEvent], bool]:
    """A filter of the SDK's `rtc.AudioStream` shape (its key set after it is made)."""
    handle_id: int | None = None
    fn: Callable[[proto_ffi.FfiEvent], bool] = lambda e: (  # noqa: E731 - the SDK's shape
        e.WhichOneof("message") == "audio_stream_event"
        and (handle_id is None or e.audio_stream_event.stream_handle == handle_id))
    handle_id = handle
    return fn


def _tone(ms: int, rate: int, hz: float = 440.0) -> AudioFrame:
    t = np.arange(rate * ms // 1000) / rate
    return AudioFrame((8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16), rate)


async def test_routed_events_reach_their_handler_in_order_with_one_wake_up() -> None:
    q = RoutedFfiQueue()
    loop = asyncio.get_running_loop()
    got: list[int] = []
    q.route("audio_stream_event", 7, loop, lambda e: got.append(e.audio_stream_event.stream_handle))
    drains = 0
    real_drain = q._drain

    def counting(lp: asyncio.AbstractEventLoop) -> None:
        nonlocal drains
        drains += 1
        real_drain(lp)

    q._drain = counting  # type: ignore[method-assign]
    others: list[proto_ffi.FfiEvent] = []
    sdk = q.subscribe(loop, _sdk_filter(8))
    for i in range(50):  # as the callback thread would, before the loop runs again
        q.put(_stream_event(7))
        if i % 10 == 0:
            q.put(_stream_event(8))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert got == [7] * 50
    assert drains == 1  # one loop wake-up for the whole batch
    while not sdk.empty():
        others.append(sdk.get_nowait())
    assert len(others) == 5  # the SDK subscriber got its own events, and only those
    q.unroute("audio_stream_event", 7)
    q.put(_stream_event(7))
    await asyncio.sleep(0)
    assert len(got) == 50


async def test_events_before_the_route_are_kept_only_while_opening() -> None:
    q = RoutedFfiQueue()
    loop = asyncio.get_running_loop()
    got: list[int] = []
    with q.opening():
        q.put(_stream_event(5))  # the native object's first event, before its key is known
        q.route("audio_stream_event", 5, loop, lambda e: got.append(5))
    q.put(_stream_event(6))  # nobody opening, nobody routed: not kept
    await asyncio.sleep(0)
    assert got == [5]
    assert q._early == {}


async def test_unsubscribing_one_sdk_stream_leaves_the_others() -> None:
    q = RoutedFfiQueue()
    loop = asyncio.get_running_loop()
    a, b = q.subscribe(loop, _sdk_filter(1)), q.subscribe(loop, _sdk_filter(1))
    c = q.subscribe(loop, _sdk_filter(2))
    assert {id(e[0]) for e in q.targets(_stream_event(1))} == {id(a), id(b)}  # resolved
    q.unsubscribe(a)
    assert [e[0] for e in q.targets(_stream_event(1))] == [b]
    q.unsubscribe(b)
    assert q.targets(_stream_event(1)) == []
    assert [e[0] for e in q.targets(_stream_event(2))] == [c]
    assert [e[0] for e in q._subscribers] == [c]


async def test_track_frames_cuts_large_native_frames_into_20_ms_frames() -> None:
    routed = install_routed_queue()
    src = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("t", src)
    frames = track_frames(track, 8000, native_frame_ms=100)
    got: list[AudioFrame] = []

    async def read() -> None:
        async for f in frames:
            got.append(f)
            if len(got) == 40:
                break

    reader = asyncio.get_running_loop().create_task(read())
    await asyncio.sleep(0.05)
    await src.capture_frame(rtc.AudioFrame(_tone(300, 48000).to_bytes(), 48000, 1, 14400))
    await asyncio.wait_for(reader, 5)
    await frames.aclose()  # type: ignore[attr-defined]
    assert all(len(f.samples) == 160 for f in got)
    assert [f.timestamp_ms for f in got] == [20.0 * i for i in range(40)]
    loud = [i for i, f in enumerate(got) if np.abs(f.samples).max() > 2000]
    assert 13 <= len(loud) <= 17 and loud == list(range(loud[0], loud[-1] + 1))
    spectrum = np.abs(np.fft.rfft(np.concatenate([got[i].samples for i in loud[1:-1]])))
    assert abs(np.argmax(spectrum) * 8000 / (2 * len(spectrum) - 2) - 440) < 20
    assert not any(kind == "audio_stream_event" for kind, _ in routed._routes)  # closed
    await src.aclose()
    with pytest.raises(ValueError, match="multiple of 20"):
        await anext(track_frames(track, 8000, native_frame_ms=30))


async def _hear(track: rtc.Track, rate: int) -> tuple[NativeAudioStream, list[np.ndarray]]:
    stream = NativeAudioStream(track, rate, 20)
    heard: list[np.ndarray] = []

    async def read() -> None:
        while (chunk := await stream.next_chunk()) is not None:
            heard.append(chunk)

    asyncio.get_running_loop().create_task(read())
    return stream, heard


def _loud_run(heard: list[np.ndarray]) -> list[int]:
    return [i for i, c in enumerate(heard) if np.abs(c).max() > 2000]


async def test_output_gathers_captures_and_the_source_never_runs_dry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = rtc.AudioSource(24000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("agent", src)
    stream, heard = await _hear(track, 24000)
    out = LiveKitAudioOutput(src)
    captures = 0
    real_capture = livekit_audio.capture_samples

    async def counting(source: rtc.AudioSource, pcm: np.ndarray) -> None:
        nonlocal captures
        captures += 1
        await real_capture(source, pcm)

    monkeypatch.setattr(livekit_audio, "capture_samples", counting)
    await out.capture_frame(_tone(40, 24000))
    assert captures == 1 and out.queued_ms > 30  # the first frame goes at once
    for _ in range(24):  # one second in 40 ms pieces, as fast as accepted (a TTS)
        await out.capture_frame(_tone(40, 24000))
    await out.wait_for_playout()
    assert captures <= 14  # 25 without gathering
    await asyncio.sleep(0.1)
    loud = _loud_run(heard)
    assert 48 <= len(loud) <= 52 and loud == list(range(loud[0], loud[-1] + 1))  # no gap
    # A slow TTS: 200 ms, then nothing. What was gathered still goes before it runs dry.
    start = len(heard)
    for _ in range(5):
        await out.capture_frame(_tone(40, 24000))
    await asyncio.sleep(0.5)
    loud = _loud_run(heard[start:])
    assert 9 <= len(loud) <= 11 and loud == list(range(loud[0], loud[-1] + 1))
    assert abs(out.played_ms - 1200) < 30
    await stream.aclose()
    await src.aclose()


async def test_clear_drops_what_is_gathered_too() -> None:
    src = rtc.AudioSource(24000, 1)
    out = LiveKitAudioOutput(src, chunk_ms=400)
    for _ in range(6):
        await out.capture_frame(_tone(40, 24000))
    assert out.queued_ms > 200 and out._gathered_n > 0  # part of it is still gathered here
    played = out.played_ms
    out.clear()
    assert out.queued_ms == 0 and out._gathered_n == 0
    assert abs(out.played_ms - played) < 20  # nothing cleared counts as heard
    await asyncio.sleep(0.2)
    assert abs(out.played_ms - played) < 20
    await src.aclose()
