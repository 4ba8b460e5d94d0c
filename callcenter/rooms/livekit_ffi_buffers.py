"""A received frame's native buffer: its samples copied out, its handle freed at once.

Every frame a native `AudioStream` delivers is a buffer the FFI owns until its handle is
dropped. The SDK drops it through `ctypes.CDLL`, which lets go of the GIL for the call:
with other threads waiting for the GIL (the SDK's callback thread delivers every event
holding it), getting it back costs ~20 us on average and up to ~340 us (p99) per frame,
against ~3 us for the drop itself (`benchmarks/livekit`, 100 streams). Freeing a buffer
is a map removal and a free in the FFI (it never calls back into Python), so here it is
called through `ctypes.PyDLL`, which keeps the GIL.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable

import numpy as np
from livekit.rtc import _ffi_client as ffi
from livekit.rtc._proto import audio_frame_pb2 as proto_audio
from livekit.rtc._proto import ffi_pb2 as proto_ffi


@functools.cache
def _drop_holding_gil() -> Callable[[int], bool]:
    lib = ctypes.PyDLL(ffi.FfiClient.instance._ffi_lib._name)  # the same loaded library
    fn = lib.livekit_ffi_drop_handle
    fn.argtypes = [ctypes.c_uint64]
    fn.restype = ctypes.c_bool
    return fn  # type: ignore[no-any-return]


def drop_handle(handle: int) -> None:
    """Free a native handle (as `FfiHandle.dispose` does, keeping the GIL)."""
    client = ffi.FfiClient._instance
    if (handle == ffi.INVALID_HANDLE or client is None or client._pid != os.getpid()
            or ffi.FfiClient._ffi_disposed):
        return  # as the SDK: nothing to free once the FFI is gone or in a forked child
    _drop_holding_gil()(handle)


def take_samples(owned: proto_audio.OwnedAudioFrameBuffer) -> np.ndarray:
    """The frame's int16 samples (interleaved), copied; its native buffer is freed."""
    info = owned.info
    n = info.num_channels * info.samples_per_channel
    samples = np.frombuffer(ctypes.string_at(info.data_ptr, 2 * n), dtype=np.int16)
    drop_handle(owned.handle.id)
    return samples


def drop_frame_buffer(event: proto_ffi.FfiEvent) -> None:
    """Free the buffer an audio-stream frame event holds (an event nobody will read)."""
    if event.WhichOneof("message") != "audio_stream_event":
        return
    ev = event.audio_stream_event
    if ev.HasField("frame_received"):
        drop_handle(ev.frame_received.frame.handle.id)
