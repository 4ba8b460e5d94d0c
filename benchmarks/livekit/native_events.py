"""Experiment: livekit.rtc's FFI events delivered with no Python on the FFI's threads.

    .venv/bin/python benchmarks/livekit/native_events.py --lines 30
    (or `density_cpu.py --native-events`, `floor.py` pieces with it: see main below)

The SDK registers a ctypes callback: every native event (each 20 ms frame of every
stream, each capture's completion) makes one of the FFI's threads take the GIL, parse
the event and post it to the loop, and the main loop gives the GIL up and takes it back
around it. `native_events.c` is a C callback instead (compiled here with the system's
`cc` into a temporary directory): events are appended to a buffer and an eventfd wakes
the loop once per batch; the loop parses and dispatches the batch itself
(`RoutedFfiQueue`'s routes directly, everything else through its `put`). The FFI takes
a new callback by calling `livekit_ffi_initialize` again (it replaces its config).

Not production code: it needs a C compiler at run time and ties event delivery to one
loop. It measures what delivering events without the GIL would save.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_SRC = Path(__file__).with_name("native_events.c")


def _build() -> Path:
    digest = hashlib.sha256(_SRC.read_bytes()).hexdigest()[:12]
    out = Path(tempfile.gettempdir()) / f"callcenter_native_events_{digest}.so"
    if not out.exists():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(tmp), str(_SRC)],
                       check=True)
        tmp.replace(out)
    return out


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Deliver this process's livekit.rtc events through the C callback, drained on `loop`."""
    from livekit.rtc import _ffi_client as ffi
    from livekit.rtc._proto import ffi_pb2 as proto_ffi

    from callcenter.rooms.livekit_ffi import event_key, install_routed_queue

    routed = install_routed_queue()
    lib = ctypes.PyDLL(str(_build()))
    lib.cc_lk_take.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.cc_lk_take.restype = ctypes.c_size_t
    lib.cc_lk_free.argtypes = [ctypes.c_void_p]
    fd = lib.cc_lk_fd()
    client = ffi.FfiClient.instance
    callback = ctypes.cast(lib.cc_lk_event, ffi.ffi_cb_fnc)
    install.keep = (lib, callback)  # type: ignore[attr-defined]  # alive for the process
    client._ffi_lib.livekit_ffi_initialize(callback, True, b"python",
                                           ffi.__version__.encode("ascii"))
    ptr = ctypes.c_void_p()
    routes = routed._routes

    def drain() -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(fd, 8)  # clear the eventfd; the C side writes it again when it fills
        n = lib.cc_lk_take(ctypes.byref(ptr))
        if not n:
            return
        data = ctypes.string_at(ptr, n)
        lib.cc_lk_free(ptr)
        view = memoryview(data)
        k = 0
        while k < n:
            m = int.from_bytes(view[k : k + 4], "little")
            ev = proto_ffi.FfiEvent()
            ev.ParseFromString(view[k + 4 : k + 4 + m])
            k += 4 + m
            kind, key = event_key(ev)
            if kind in ("logs", "panic"):
                if kind == "panic":
                    print("FFI Panic:", ev.panic.message, file=sys.stderr, flush=True)
                continue  # the SDK logs these; this experiment drops them
            route = routes.get((kind, key)) if key is not None else None
            if route is not None and route[0] is loop:
                try:
                    route[1](ev)
                except Exception as exc:  # as RoutedFfiQueue._drain: the others still get theirs
                    print("livekit event handler failed:", exc, file=sys.stderr)
            else:
                routed.put(ev)

    if os.environ.get("CALLCENTER_NATIVE_EVENTS_THREAD") == "1":
        import select
        import threading

        def thread_drain() -> None:  # one GIL take per batch, on its own thread
            while True:
                select.select([fd], [], [])
                with contextlib.suppress(BlockingIOError):
                    os.read(fd, 8)  # before taking: an event after the take wakes us again
                n = lib.cc_lk_take(ctypes.byref(ptr))
                if not n:
                    continue
                data = ctypes.string_at(ptr, n)
                lib.cc_lk_free(ptr)
                view = memoryview(data)
                k = 0
                while k < n:
                    m = int.from_bytes(view[k : k + 4], "little")
                    ev = proto_ffi.FfiEvent()
                    ev.ParseFromString(view[k + 4 : k + 4 + m])
                    k += 4 + m
                    if ev.WhichOneof("message") not in ("logs", "panic"):
                        routed.put(ev)

        threading.Thread(target=thread_drain, daemon=True, name="lk-events").start()
        return
    loop.add_reader(fd, drain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--calls", type=int, nargs="*", default=[],
                        help="also run bench density steps of these many livekit calls")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent
    runs: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        for native in (False, True):
            env = dict(os.environ, CALLCENTER_NATIVE_EVENTS="1" if native else "0")
            out = subprocess.run([sys.executable, str(here / "floor.py"), "--lines",
                                  str(args.lines), "--child", "4"], env=env,
                                 capture_output=True, text=True, check=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            run["native_events"] = native
            runs.append(run)
            print(f"floor, {args.lines} lines, native events {native}: "
                  f"{run['cpu_pct_per_line']} % per line, by thread {run['cpu_pct_by_thread']}, "
                  f"load {run['load_avg_1m']}", flush=True)
            for calls in args.calls:
                out = subprocess.run([sys.executable, str(here / "density_cpu.py"), "--child",
                                      "livekit", str(calls), "10"], env=env,
                                     capture_output=True, text=True, check=True)
                run = json.loads(out.stdout.strip().splitlines()[-1])
                run["native_events"] = native
                runs.append(run)
                print(f"bench, {calls} livekit calls, native events {native}: "
                      f"{run['cpu_s_per_call_s']} CPU-s per call-s, late "
                      f"{run['late_frame_pct']} %, overhead p99 {run['turn_overhead_p99_ms']} "
                      f"ms, by thread {run['cpu_pct_by_thread']}, load {run['load_avg_1m']}",
                      flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
