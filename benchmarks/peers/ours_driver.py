"""callcenter density step on the peers' workload: N bench calls in one process (manual bench).

Run in callcenter's venv by `benchmarks/peers/run`:
    .venv/bin/python benchmarks/peers/ours_driver.py --workload DIR --sessions N --seconds S

Each session is `callcenter.bench.harness.BenchCall` (a production `CallSession` on a
`LocalRoom`, our VAD, FakeSTT/FakeLLM/FakeTTS with the workload's delays) as in
`callcenter bench voice`'s density step, but its caller plays the peers' track: the same
frames `common.Workload.frame` gives the peers, queued into the room at once and sent by
the room's one 20 ms ticker, each line noted on the call's SpeechBoard for FakeSTT. Late
frames are the voice session's own count (the rule common.LateCounter copies), turns are
measured by `harness.measure` from the caller's side.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    FRAME_MS,
    REPLY_SLACK_MS,
    WARMUP_S,
    Workload,
    driver_main,
    load_workload,
    step_result,
)

from callcenter.bench.harness import (
    BenchCall,
    CallResult,
    Latencies,
    measure,
    rss_mb,
    script_for,
)
from callcenter.rooms.clock import RealClock
from callcenter.testing.caller import SaidLine
from callcenter.testing.voices import CallerVoice
from callcenter.voice.runtime import settle_gc

GC_SETTLE_S = 1.0  # as the density step: a worker settles the GC after admitting calls


class Track:
    """Session `index`'s caller frames, queued into its room a little ahead of the room's
    ticker (as a phone line delivers them: the peers' drivers make them per tick too), and
    its lines noted on the call's SpeechBoard for FakeSTT."""

    AHEAD_FRAMES = 50  # top the queue up to ~1 s ahead

    def __init__(self, call: BenchCall, w: Workload, index: int, frames: int) -> None:
        self.call, self.w, self.index, self.frames = call, w, index, frames
        self.sent = 0
        self.start = self._push(self.AHEAD_FRAMES)
        caller = call.caller
        for text, s0, s1 in w.lines_until(index, frames * FRAME_MS):
            a, b = self.start + s0, self.start + s1
            call.board.said(caller.script.identity, text, a, b)
            caller.report.said.append(SaidLine(text, a, a, b))
        self.gaps = 0

    def _push(self, n: int) -> float:
        k0, k1 = self.sent, min(self.frames, self.sent + n)
        pcm = b"".join(self.w.frame(self.index, k) for k in range(k0, k1))
        self.sent = k1
        return self.call.caller.participant.push_audio(np.frombuffer(pcm, dtype=np.int16))

    def top_up(self) -> None:
        if self.sent >= self.frames or self.call.caller.participant.queued_ms > 500.0:
            return
        due = self.start + self.sent * FRAME_MS
        # A queue that ran dry would shift every later line off the board's times.
        if abs(self._push(self.AHEAD_FRAMES) - due) > 1.0:
            self.gaps += 1


async def feed(tracks: list[Track]) -> None:
    while True:
        for t in tracks:
            t.top_up()
        await asyncio.sleep(0.2)


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    w = load_workload(Path(args.workload))
    lat = Latencies(stt_final=w.stt_final_s, llm_ttft=w.llm_ttft_s, tts_ttfb=w.tts_ttfb_s)
    voice = CallerVoice("espeak", "phone")  # unused: the track is queued, not spoken
    settle_gc()
    rss0 = rss_mb()
    clock = RealClock()
    calls = [BenchCall(clock, voice, script_for(1, 0, seed=i, pause=(0.3, 1.5)), latencies=lat)
             for i in range(args.sessions)]
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(c.call.run()) for c in calls]
    await asyncio.sleep(0.1)  # every call session listening before its caller speaks
    frames = int((WARMUP_S + args.seconds + 1.0) * 1000 / FRAME_MS)
    tracks = [Track(c, w, i, frames) for i, c in enumerate(calls)]
    feeder = loop.create_task(feed(tracks))
    await asyncio.sleep(GC_SETTLE_S)
    settle_gc()
    await asyncio.sleep(WARMUP_S - GC_SETTLE_S)
    counted_from = [c.room.next_frame_ms() for c in calls]
    for c in calls:
        c.session.frames_seen = c.session.late_frames = 0
    t0, c0 = time.monotonic(), time.process_time()
    await asyncio.sleep(args.seconds)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    rss1 = rss_mb()
    ends = [c.room.next_frame_ms() for c in calls]
    results: list[CallResult | BaseException] = []
    expected = 0
    for c, frm, end in zip(calls, counted_from, ends, strict=True):
        report = c.caller.report
        # The turns of the window: the same lines the peers count (common.counted_lines).
        report.said = [x for x in report.said
                       if frm <= x.speech_end_ms < end - REPLY_SLACK_MS]
        expected += len(report.said)
        results.append(CallResult(
            report, c.session.frames_seen, c.session.late_frames,
            lead_ms=1000.0 * lat.after_commit, turns=list(c.session.metrics),
            counted_from_ms=frm))
    if feeder.done() and feeder.exception() is not None:
        errors_feed = [f"caller feed failed: {feeder.exception()!r}"]
    else:
        errors_feed = []
        feeder.cancel()
    for t in tasks:
        t.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    errors = errors_feed + [
        repr(o) for o in outcomes
        if isinstance(o, BaseException) and not isinstance(o, asyncio.CancelledError)]
    for c in calls:
        c.room.close()
        await c.http.aclose()
    if any(t.gaps for t in tracks):
        errors.append(f"the caller track ran dry in {sum(bool(t.gaps) for t in tracks)} calls")
    m = measure(results)
    return step_result(
        framework="callcenter", version=version("callcenter"), sessions=args.sessions,
        wall_s=wall, cpu_s=cpu, frames=m.frames, late=m.late_frames,
        overheads=m.turn_overhead_ms, rss0_mb=rss0, rss1_mb=rss1, expected_turns=expected,
        errors=errors,
        notes={"endpointing": f"min_delay {w.endpointing_ms:g} ms after the VAD speech end"},
    )


if __name__ == "__main__":
    driver_main(__doc__, main_async)
