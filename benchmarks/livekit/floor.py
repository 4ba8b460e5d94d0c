"""The CPU floor of `bench voice --room livekit`'s media path, piece by piece, no calls.

    .venv/bin/python benchmarks/livekit/floor.py --lines 30 --json OUT

Each bench call's line is, in `livekit.rtc` loopback: the caller's mic (a 48 kHz
`AudioSource`), the agent's input stream of it (`NativeAudioStream`, 16 kHz, 20 ms
frames: the SDK resamples), the agent's voice (a 24 kHz source) and the caller's ear on
it (8 kHz, 100 ms frames), the mic fed 100 ms at a time (`capture_samples`). Here N such
lines run with no call on them (silence, no VAD, no flow), adding one piece at a time,
each set in a fresh process: what is left is what `livekit.rtc` costs per line before
any of our pipeline runs. It prints CPU per line (% of one core) and by thread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from density_cpu import _group, thread_cpu  # this directory's sibling

# Pieces added one at a time, in this order.
PIECES = ("mic+input", "agent_source", "ear", "mic_captures")
WINDOW_S = 5.0


async def _measure(lines: int, pieces: int) -> dict[str, Any]:
    import numpy as np
    from livekit import rtc

    from callcenter.rooms.livekit_audio import NativeAudioStream, capture_samples
    from callcenter.rooms.livekit_ffi import install_routed_queue
    from callcenter.voice.runtime import realtime_process

    realtime_process()
    install_routed_queue()
    if os.environ.get("CALLCENTER_NATIVE_EVENTS") == "1":  # native_events.py's experiment
        from native_events import install

        install(asyncio.get_running_loop())
    loop = asyncio.get_running_loop()
    frames = 0
    keep: list[Any] = []
    mics: list[rtc.AudioSource] = []

    async def read(stream: NativeAudioStream) -> None:
        nonlocal frames
        while await stream.next_chunk() is not None:
            frames += 1

    use = PIECES[:pieces]
    for _ in range(lines):
        mic = rtc.AudioSource(48000, 1)
        mic_track = rtc.LocalAudioTrack.create_audio_track("caller", mic)
        keep += [mic, mic_track]
        mics.append(mic)
        s = NativeAudioStream(mic_track, 16000, 20)
        keep.append(s)
        keep.append(loop.create_task(read(s)))
        if "agent_source" in use:
            agent = rtc.AudioSource(24000, 1)
            agent_track = rtc.LocalAudioTrack.create_audio_track("agent-voice", agent)
            keep += [agent, agent_track]
            if "ear" in use:
                ear = NativeAudioStream(agent_track, 8000, 100)
                keep.append(ear)
                keep.append(loop.create_task(read(ear)))

    async def feed() -> None:
        piece = np.zeros(4800, dtype=np.int16)  # 100 ms at 48 kHz
        while True:
            for m in mics:
                keep.append(loop.create_task(capture_samples(m, piece)))
            del keep[-len(mics):]  # the tasks run; only the loop holds them now
            await asyncio.sleep(0.1)

    if "mic_captures" in use:
        keep.append(loop.create_task(feed()))
    await asyncio.sleep(2.0)
    f0, t0, p0, th0 = frames, time.monotonic(), time.process_time(), thread_cpu()
    await asyncio.sleep(WINDOW_S)
    wall, cpu, th1 = time.monotonic() - t0, time.process_time() - p0, thread_cpu()
    by: dict[str, float] = {}
    for k, v in th1.items():
        by[_group(k)] = by.get(_group(k), 0.0) + v - th0.get(k, 0.0)
    return {
        "pieces": list(use), "lines": lines,
        "events_per_line_s": round((frames - f0) / wall / lines, 1),
        "cpu_pct": round(100.0 * cpu / wall, 1),
        "cpu_pct_per_line": round(100.0 * cpu / wall / lines, 3),
        "cpu_pct_by_thread": {k: round(100.0 * v / wall, 1) for k, v in
                              sorted(by.items(), key=lambda kv: -kv[1]) if v / wall >= 0.005},
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_measure(args.lines, args.child))), flush=True)
        os._exit(0)  # the native objects are not closed one by one
    runs = []
    for k in range(1, len(PIECES) + 1):
        out = subprocess.run([sys.executable, __file__, "--lines", str(args.lines),
                              "--child", str(k)], capture_output=True, text=True, check=True)
        run = json.loads(out.stdout.strip().splitlines()[-1])
        runs.append(run)
        threads = ", ".join(f"{n} {v}" for n, v in run["cpu_pct_by_thread"].items())
        print(f"{' + '.join(run['pieces'])}: {run['cpu_pct_per_line']} % of a core per line "
              f"({run['cpu_pct']} % for {args.lines}; {run['events_per_line_s']} frames/s "
              f"per line; load {run['load_avg_1m']})\n  by thread: {threads}", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"window_s": WINDOW_S, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
