"""Calls into livekit.rtc's FFI that keep the GIL: freeing a received frame's buffer, and
the requests the FFI answers at once.

The SDK calls the FFI through `ctypes.CDLL`, which lets go of the GIL for every call.
With other threads waiting for the GIL (the SDK's callback threads deliver every native
event holding it, the VAD's thread), getting it back costs ~20 us on average and up to
~340 us (p99) per call, against ~3 us for the call itself (`benchmarks/livekit`, 100
streams), and each hand-over is two context switches. Here the same library is called
through `ctypes.PyDLL`, which keeps the GIL, for calls that never wait on the FFI's own
threads: dropping a handle (a map removal and a free) and the requests `request` is
meant for (capturing a frame into a source: the samples are copied and the work is
spawned; pushing samples into a resampler: computed in the call).
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from livekit.rtc import _ffi_client as ffi
from livekit.rtc._proto import audio_frame_pb2 as proto_audio
from livekit.rtc._proto import ffi_pb2 as proto_ffi

_pid = os.getpid()


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork)  # os.getpid() is a syscall: read it once


@functools.cache
def _lib_holding_gil() -> tuple[Callable[[int], bool], Any]:
    lib = ctypes.PyDLL(ffi.FfiClient.instance._ffi_lib._name)  # the same loaded library
    drop = lib.livekit_ffi_drop_handle
    drop.argtypes = [ctypes.c_uint64]
    drop.restype = ctypes.c_bool
    req = lib.livekit_ffi_request
    req.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                    ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),
                    ctypes.POINTER(ctypes.c_size_t)]
    req.restype = ctypes.c_uint64
    return drop, req


def _usable(client: ffi.FfiClient | None) -> bool:
    return not (client is None or client._pid != _pid or ffi.FfiClient._ffi_disposed)


def drop_handle(handle: int) -> None:
    """Free a native handle (as `FfiHandle.dispose` does, keeping the GIL)."""
    if handle == ffi.INVALID_HANDLE or not _usable(ffi.FfiClient._instance):
        return  # as the SDK: nothing to free once the FFI is gone or in a forked child
    _lib_holding_gil()[0](handle)


def request(req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
    """`FfiClient.request`, keeping the GIL: only for requests that never wait on the
    FFI's threads (see module doc); anything else must go through the SDK."""
    client = ffi.FfiClient.instance
    if client._pid != _pid:
        raise RuntimeError("livekit.rtc was used in a parent process before fork(); the "
                           "native runtime cannot be used across fork()")
    if ffi.FfiClient._ffi_disposed:
        raise RuntimeError("livekit.rtc's FFI is disposed (the process is exiting)")
    drop, call = _lib_holding_gil()
    data = req.SerializeToString()
    out = ctypes.POINTER(ctypes.c_ubyte)()
    n = ctypes.c_size_t()
    handle = call(data, len(data), ctypes.byref(out), ctypes.byref(n))
    if handle == ffi.INVALID_HANDLE:
        raise RuntimeError(f"livekit FFI refused the request {req.WhichOneof('message')}")
    resp = proto_ffi.FfiResponse()
    resp.ParseFromString(ctypes.string_at(out, n.value))
    drop(handle)
    return resp


def take_samples(owned: proto_audio.OwnedAudioFrameBuffer) -> np.ndarray:
    """The frame's int16 samples (interleaved), copied; its native buffer is freed."""
    info = owned.info
    n = info.num_channels * info.samples_per_channel
    # A ctypes array over the native buffer, copied by numpy (ctypes caches the array
    # type per length): ~0.9 us for 20 ms at 16 kHz against ~1.5 us through string_at.
    view = memoryview((ctypes.c_int16 * n).from_address(info.data_ptr))
    samples: np.ndarray = np.frombuffer(view, dtype=np.int16).copy()
    drop_handle(owned.handle.id)
    return samples


def drop_frame_buffer(event: proto_ffi.FfiEvent) -> None:
    """Free the buffer an audio-stream frame event holds (an event nobody will read)."""
    if event.WhichOneof("message") != "audio_stream_event":
        return
    ev = event.audio_stream_event
    if ev.HasField("frame_received"):
        drop_handle(ev.frame_received.frame.handle.id)
