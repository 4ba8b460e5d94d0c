"""How many `livekit.rtc` loopback streams one process keeps in real time, SDK queue or routed.

    .venv/bin/python benchmarks/livekit/loopback.py --streams 100 200 --json OUT

Each stream is an idle `AudioSource` -> `LocalAudioTrack` -> `AudioStream` (20 ms frames;
an idle source plays silence, so every stream is 50 events a second, as a call's are).
For each count it runs once with the SDK's own FFI queue and once (in a fresh process)
with `callcenter.rooms.livekit_ffi.RoutedFfiQueue`, and reports the frames delivered per
stream per second over a 3 s window (50 is real time) and the process's CPU by thread
(the SDK's callback thread runs every subscriber filter under the GIL).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WINDOW_S = 3.0


def _thread_cpu() -> dict[str, float]:
    """CPU seconds per thread name, summed over threads of the same name."""
    out: collections.defaultdict[str, float] = collections.defaultdict(float)
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[name] += (int(fields[11]) + int(fields[12])) / tick
    return dict(out)


async def _measure(streams: int) -> dict[str, Any]:
    from livekit import rtc

    counting = False
    frames = 0
    objs: list[tuple[rtc.AudioSource, rtc.AudioStream]] = []  # kept alive to the end
    readers = []

    async def read(stream: rtc.AudioStream) -> None:
        nonlocal frames
        async for _ in stream:
            if counting:
                frames += 1

    for _ in range(streams):
        src = rtc.AudioSource(8000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("t", src)
        stream = rtc.AudioStream(track, sample_rate=8000, num_channels=1, frame_size_ms=20)
        objs.append((src, stream))
        readers.append(asyncio.get_running_loop().create_task(read(stream)))
    await asyncio.sleep(1.0)
    before, t0 = _thread_cpu(), time.monotonic()
    counting = True
    await asyncio.sleep(WINDOW_S)
    counting = False
    wall, after = time.monotonic() - t0, _thread_cpu()
    # No teardown: closing a stream waits for its backlog of events to drain, which with
    # the SDK's queue at a few hundred streams takes minutes. The child process just ends.
    cpu = {k: round(100.0 * (v - before.get(k, 0.0)) / wall, 1) for k, v in after.items()}
    return {
        "streams": streams,
        "frames_per_stream_per_s": round(frames / wall / streams, 1),
        "cpu_pct": round(sum(cpu.values()), 1),
        "cpu_pct_by_thread": {k: v for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])
                              if v >= 1.0},
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def _child(streams: int, routed: bool) -> None:
    if routed:
        from callcenter.rooms.livekit_ffi import install_routed_queue

        install_routed_queue()
    result = asyncio.run(_measure(streams))
    result["queue"] = "routed" if routed else "sdk"
    print(json.dumps(result), flush=True)
    os._exit(0)  # see _measure: the native streams are not closed one by one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", nargs=2, metavar=("STREAMS", "ROUTED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(int(args.child[0]), args.child[1] == "1")
        return
    runs = []
    for n in args.streams:
        for routed in (False, True):
            # A fresh process each: the native runtime and its threads start clean.
            out = subprocess.run([sys.executable, __file__, "--child", str(n), str(int(routed))],
                                 capture_output=True, text=True, check=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(run)
            print(f"{n} streams, {run['queue']} queue: {run['frames_per_stream_per_s']} "
                  f"frames/s each (50 = real time), CPU {run['cpu_pct']} %, "
                  f"load {run['load_avg_1m']}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"window_s": WINDOW_S, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
