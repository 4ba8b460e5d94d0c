"""What every peer driver shares: the workload, the pacing clock and the measure.

Standard library only: this file runs in each framework's own virtualenv (it is put on
`sys.path` by the driver) and in ours. Nothing in `callcenter/` imports it.

The measure is callcenter's bench's (callcenter.bench.harness / voice.session):
- a frame is due at the end of its 20 ms (a real-time sender packetizes that way); its lag
  is when the framework's VAD stage took it minus when it was due; a frame is late when its
  lag exceeds the smallest lag seen in that session by more than `LATE_MS` (20 ms);
- turn overhead = caller's voiced end -> first reply sample heard, minus the configured
  endpointing wait and the fake providers' fixed delays (LLM first token + TTS first audio;
  the STT final lands inside the endpointing wait);
- CPU = process CPU seconds (all threads) over the counted window; RSS from /proc.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import collections
import json
import os
import resource
import time
import wave
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FRAME_MS = 20.0
LATE_MS = 20.0
WARMUP_S = 1.3  # ours: 1.0 s warm-up + 0.3 s after the GC settle (callcenter.bench.voice)
LOUD = 100  # |sample| above this is audible (callcenter.testing.caller._edge)


@dataclass(frozen=True)
class Line:
    text: str
    voiced_start_ms: float  # within one cycle of the caller track
    voiced_end_ms: float


@dataclass
class Workload:
    """The caller track (one cycle, repeated), the fixed reply and the fake delays."""

    rate: int
    caller: array.array[int]  # int16 samples, one cycle
    reply: array.array[int]  # int16 samples at `rate`
    reply_text: str
    lines: list[Line]
    stt_final_s: float
    llm_ttft_s: float
    tts_ttfb_s: float
    endpointing_ms: float
    lead_step_ms: float

    @property
    def frame_samples(self) -> int:
        return int(self.rate * FRAME_MS / 1000)

    @property
    def cycle_ms(self) -> float:
        return 1000.0 * len(self.caller) / self.rate

    @property
    def provider_ms(self) -> float:
        return 1000.0 * (self.llm_ttft_s + self.tts_ttfb_s)

    def lead_ms(self, session: int) -> float:
        """Session i starts its track this much later (noise before), so turns don't align."""
        frames = round(((session * self.lead_step_ms) % 1500.0) / FRAME_MS)
        return frames * FRAME_MS

    def lines_until(self, session: int, until_ms: float) -> list[tuple[str, float, float]]:
        """(text, voiced start, voiced end) in session media time, up to `until_ms`."""
        out: list[tuple[str, float, float]] = []
        base = self.lead_ms(session)
        while base < until_ms:
            for ln in self.lines:
                if base + ln.voiced_start_ms < until_ms:
                    out.append((ln.text, base + ln.voiced_start_ms, base + ln.voiced_end_ms))
            base += self.cycle_ms
        return out

    def frame(self, session: int, k: int) -> bytes:
        """Caller frame k (media [20k, 20k+20) ms) of `session`, as PCM16 bytes."""
        n = self.frame_samples
        lead = int(self.lead_ms(session) * self.rate / 1000)
        # Before the track starts the session hears the cycle's tail (line noise).
        start = (k * n - lead) % len(self.caller)
        chunk = self.caller[start:start + n]
        if len(chunk) < n:
            chunk = chunk + self.caller[: n - len(chunk)]
        return chunk.tobytes()


def read_wav(path: Path) -> tuple[int, array.array[int]]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: need 16-bit mono PCM")
        data = array.array("h")
        data.frombytes(w.readframes(w.getnframes()))
        return w.getframerate(), data


def write_wav(path: Path, rate: int, samples: array.array[int]) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def load_workload(folder: Path) -> Workload:
    meta = json.loads((folder / "workload.json").read_text())
    rate, caller = read_wav(folder / "caller.wav")
    reply_rate, reply = read_wav(folder / "reply.wav")
    if reply_rate != rate:
        raise ValueError(f"reply.wav is {reply_rate} Hz, caller.wav {rate} Hz: make them match")
    return Workload(
        rate=rate, caller=caller, reply=reply, reply_text=meta["reply_text"],
        lines=[Line(x["text"], x["voiced_start_ms"], x["voiced_end_ms"]) for x in meta["lines"]],
        stt_final_s=meta["stt_final_s"], llm_ttft_s=meta["llm_ttft_s"],
        tts_ttfb_s=meta["tts_ttfb_s"], endpointing_ms=meta["endpointing_ms"],
        lead_step_ms=meta["lead_step_ms"],
    )


@dataclass
class LateCounter:
    """callcenter.voice.session.VoiceSession.observe_frame's rule, on (due, processed)."""

    frames: int = 0
    late: int = 0
    _base: float | None = None
    counting: bool = True

    def observe(self, lag_ms: float) -> None:
        if self._base is None or lag_ms < self._base:
            self._base = lag_ms
            late = False
        else:
            late = lag_ms - self._base > LATE_MS
        if self.counting:
            self.frames += 1
            self.late += int(late)


@dataclass
class Heard:
    """What the caller heard of the agent: start times (media ms) of its audio stretches."""

    starts: list[float] = field(default_factory=list)
    _last_loud_ms: float = -1e9
    gap_ms: float = 400.0

    def frame(self, ts_ms: float, samples: array.array[int], rate: int) -> None:
        loud = [i for i, s in enumerate(samples) if abs(s) > LOUD]
        if not loud:
            return
        start = ts_ms + 1000.0 * loud[0] / rate
        if start - self._last_loud_ms >= self.gap_ms:
            self.starts.append(start)
        self._last_loud_ms = ts_ms + 1000.0 * (loud[-1] + 1) / rate


class Session:
    """One call's edges: due times of frames in flight, the late count, what was heard."""

    def __init__(self, index: int, w: Workload) -> None:
        self.index, self.w = index, w
        self.due: collections.deque[float] = collections.deque()
        self.late = LateCounter()
        self.heard = Heard()
        self.playout = array.array("h")  # reply audio waiting to be played, at w.rate
        self.last_tick = time.monotonic()  # when the clock last played a frame

    def queue_reply(self, samples: array.array[int]) -> None:
        """Reply audio from the framework. Audio that arrives while nothing plays starts at
        that moment within the frame being filled, not at the next 20 ms boundary (as our
        LocalRoom places it: callcenter.rooms.local_audio._Timeline)."""
        if not self.playout:
            since_ms = min(FRAME_MS, 1000.0 * (time.monotonic() - self.last_tick))
            self.playout.extend([0] * round(since_ms * self.w.rate / 1000.0))
        self.playout.extend(samples)

    def vad_took_frame(self) -> None:
        """The framework's VAD stage took the oldest frame in flight: note its lag."""
        if self.due:
            self.late.observe(1000.0 * (time.monotonic() - self.due.popleft()))


Feed = Callable[[Session, int, bytes], Awaitable[None]]


async def pace(
    sessions: list[Session], seconds: float, feed: Feed,
    played: Callable[[Session], None] = lambda _s: None,
) -> tuple[Window, int]:
    """One clock for every session: frame k is due at the end of its 20 ms; at each tick
    every session gets its caller frame and plays 20 ms of whatever reply is queued."""
    w = sessions[0].w
    n = w.frame_samples
    total = int((WARMUP_S + seconds) * 1000 / FRAME_MS)
    warm = int(WARMUP_S * 1000 / FRAME_MS)
    window: Window | None = None
    t0 = time.monotonic()
    for k in range(total):
        due = t0 + (k + 1) * FRAME_MS / 1000.0
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if k == warm:
            window = Window(from_frame=k)
            for s in sessions:
                s.late.frames = s.late.late = 0
        for s in sessions:
            s.due.append(due)
            await feed(s, k, w.frame(s.index, k))
            chunk, s.playout = s.playout[:n], s.playout[n:]
            s.heard.frame(k * FRAME_MS, chunk, w.rate)
            s.last_tick = time.monotonic()
            played(s)
    assert window is not None
    return window, total


# A line counts as a turn of the step when its voice ends in the counted window at least
# this long before the window closes: its reply (~0.9 s after the voice) is still heard.
REPLY_SLACK_MS = 1500.0


def counted_lines(w: Workload, session: int, from_ms: float, end_ms: float) -> list[float]:
    """Voiced ends (media ms) of the lines that are turns of a window [from_ms, end_ms)."""
    until = end_ms - REPLY_SLACK_MS
    return [e for _t, _s, e in w.lines_until(session, until) if from_ms <= e < until]


def turn_overheads(
    w: Workload, session: int, heard: Heard, counted_from_ms: float, end_ms: float
) -> list[float]:
    """Per answered counted line: its first reply sample after the voice, in overhead ms
    (a line left unanswered has no figure; `step_result` reports answered vs expected)."""
    out: list[float] = []
    for end in counted_lines(w, session, counted_from_ms, end_ms):
        first = next((s for s in heard.starts if s >= end), None)
        if first is not None:
            out.append(first - end - w.endpointing_ms - w.provider_ms)
    return out


def session_turns(
    w: Workload, sessions: list[Session], window: Window, total: int
) -> tuple[list[float], int]:
    """Every session's turn overheads over the counted window, and how many turns it held."""
    span = (window.from_frame * FRAME_MS, total * FRAME_MS)
    overheads: list[float] = []
    expected = 0
    for s in sessions:
        overheads += turn_overheads(w, s.index, s.heard, *span)
        expected += len(counted_lines(w, s.index, *span))
    return overheads, expected


def driver_main(
    doc: str | None, step: Callable[[argparse.Namespace], Coroutine[Any, Any, Any]]
) -> None:
    """A driver's command line: one step, its result as one JSON line on stdout."""
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--workload", required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    print(json.dumps(asyncio.run(step(p.parse_args()))))


def percentile(values: list[float], q: float) -> float | None:
    """callcenter.bench.harness.percentile: nearest rank, 2 decimals."""
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, round(q / 100.0 * (len(v) - 1))))
    return round(v[k], 2)


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError):  # pragma: no cover - non-Linux
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class Window:
    """The counted stretch of a step: wall and CPU time, frames from `from_frame` on."""

    from_frame: int
    t0: float = field(default_factory=time.monotonic)
    c0: float = field(default_factory=time.process_time)

    def close(self) -> tuple[float, float]:
        return time.monotonic() - self.t0, time.process_time() - self.c0


def step_result(
    *, framework: str, version: str, sessions: int, wall_s: float, cpu_s: float,
    frames: int, late: int, overheads: list[float], rss0_mb: float, rss1_mb: float,
    expected_turns: int,
    errors: list[str] | None = None, notes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One density step, JSON-ready; every driver returns exactly these fields."""
    audio_s = frames * FRAME_MS / 1000.0  # caller audio processed, all sessions together
    return {
        "framework": framework,
        "version": version,
        "sessions": sessions,
        "frames": frames,
        "late_frames": late,
        "late_frame_pct": round(100.0 * late / frames, 3) if frames else 100.0,
        "cpu_pct": round(100.0 * cpu_s / wall_s, 1) if wall_s > 0 else None,
        "cpu_s_per_audio_s_per_session": round(cpu_s / audio_s, 5) if audio_s else None,
        "turn_overhead_ms": {"p50": percentile(overheads, 50),
                             "p99": percentile(overheads, 99), "turns": len(overheads),
                             "expected_turns": expected_turns},
        "rss_mb": rss1_mb,
        "rss_per_session_mb": round(max(0.0, rss1_mb - rss0_mb) / sessions, 3),
        "wall_s": round(wall_s, 2),
        "errors": errors or [],
        **({"notes": notes} if notes else {}),
    }
