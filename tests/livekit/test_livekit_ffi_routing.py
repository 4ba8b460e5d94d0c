"""The routed FFI queue sends every event exactly where the SDK's own filters would.

The subscribers are the SDK's: the filters recorded while real `rtc.AudioStream`s, an
`AudioSource.capture_frame` and a room-style subscription were made; the events are every
kind they look at, with their keys and others. Then a loopback stream and a capture run
with the routed queue in charge.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from livekit import rtc
from livekit.rtc import _ffi_client as ffi
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from callcenter.rooms.livekit_ffi import RoutedFfiQueue, install_routed_queue


def _events(handles: list[int], async_ids: list[int]) -> list[proto_ffi.FfiEvent]:
    out = []
    for h in [*handles, 999_999]:
        e = proto_ffi.FfiEvent()
        e.audio_stream_event.stream_handle = h
        out.append(e)
        v = proto_ffi.FfiEvent()
        v.video_stream_event.stream_handle = h
        out.append(v)
    for a in [*async_ids, 888_888]:
        e = proto_ffi.FfiEvent()
        e.capture_audio_frame.async_id = a
        out.append(e)
    room = proto_ffi.FfiEvent()
    room.room_event.room_handle = 7
    out.append(room)
    return out


def _reference(entries: list[Any], event: proto_ffi.FfiEvent) -> set[int]:
    return {id(e[0]) for e in entries if e[2] is None or e[2](event)}


def test_routed_targets_match_the_sdk_filters() -> None:
    async def main() -> None:
        recorded: list[Any] = []
        client_queue = ffi.FfiClient.instance.queue
        real_subscribe = client_queue.subscribe

        def spy(loop: Any = None, filter_fn: Any = None) -> Any:
            q = real_subscribe(loop, filter_fn)
            recorded.append((q, loop or asyncio.get_running_loop(), filter_fn))
            return q

        client_queue.subscribe = spy
        sources, streams = [], []
        try:
            for _ in range(3):
                src = rtc.AudioSource(8000, 1)
                track = rtc.LocalAudioTrack.create_audio_track("t", src)
                sources.append(src)
                streams.append(rtc.AudioStream(track, sample_rate=8000, num_channels=1))
            await sources[0].capture_frame(
                rtc.AudioFrame(np.zeros(160, np.int16).tobytes(), 8000, 1, 160))
            # A room's kind-only filter and an unfiltered waiter, as the SDK makes them.
            real_subscribe(None, lambda e: e.WhichOneof("message") not in (
                "audio_stream_event", "video_stream_event"))
            recorded.append((None, None, None))
        finally:
            client_queue.subscribe = real_subscribe
            for s in streams:
                await s.aclose()
            for src in sources:
                await src.aclose()
        room_filter = client_queue._subscribers[-1]
        entries = [e for e in recorded if e[0] is not None] + [room_filter]
        entries.append((object(), asyncio.get_running_loop(), None))
        # The SDK's shape with its key not yet known: it takes every event of its kind.
        pending: int | None = None
        entries.append((object(), asyncio.get_running_loop(), lambda e: (
            e.WhichOneof("message") == "audio_stream_event"
            and (pending is None or e.audio_stream_event.stream_handle == pending))))
        handles = [s._ffi_handle.handle for s in streams]
        async_ids = [1, 2, 3, 40]
        routed = RoutedFfiQueue()
        for e in entries:
            routed._add(e)
        for event in _events(handles, async_ids):
            got = {id(e[0]) for e in routed.targets(event)}
            assert got == _reference(entries, event), event
        pending = handles[1]
        for event in _events(handles, async_ids):
            assert {id(e[0]) for e in routed.targets(event)} == _reference(entries, event)
        # The SDK's filters took the keyed path (not the ask-everyone fallback): three
        # streams by handle, the capture by its id, the room's filter once per kind.
        streams_keyed = routed._keyed["audio_stream_event"].by_key
        assert sorted(k for k in streams_keyed if k in handles) == sorted(handles)
        assert len(routed._keyed["capture_audio_frame"].by_key) == 1
        assert len(routed._kind_only) == 1

    asyncio.run(main())


def test_loopback_stream_and_capture_run_on_the_routed_queue() -> None:
    async def main() -> int:
        routed = install_routed_queue()
        assert install_routed_queue() is routed  # idempotent
        src = rtc.AudioSource(8000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("t", src)
        stream = rtc.AudioStream(track, sample_rate=8000, num_channels=1, frame_size_ms=20)
        loud = 0

        async def read() -> None:
            nonlocal loud
            async for ev in stream:
                if np.abs(np.frombuffer(bytes(ev.frame.data), np.int16)).max() > 1000:
                    loud += 1

        reader = asyncio.get_running_loop().create_task(read())
        tone = (np.ones(160, np.int16) * 5000).tobytes()
        for _ in range(10):
            await src.capture_frame(rtc.AudioFrame(tone, 8000, 1, 160))
        await asyncio.sleep(0.4)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await stream.aclose()
        await src.aclose()
        return loud

    assert asyncio.run(main()) >= 8
