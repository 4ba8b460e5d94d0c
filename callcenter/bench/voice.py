"""`callcenter bench voice`: turn overhead, barge-in, density and the offline stack, measured.

Phases (all in real time, 20 ms frames, real Silero VAD, callers speaking over a phone
channel into `LocalRoom`s; each call is a `CallSession` whose flow is one LLM agent node,
so a turn takes the production path through the flow runner):

1. overhead: many concurrent calls with zero-latency fake providers. Turn overhead is
   caller speech end -> first agent audio, minus the endpointing delay (so it includes the
   flow runner's step and the session's action handling); barge-in is caller speech
   onset -> agent audio stopped, minus `min_interruption_duration`.
2. density: N calls at once (line noise on, so Silero scores every window) with realistic
   fake provider latencies; late frames, CPU, RSS and turn overhead per N.
3. offline: Silero + Whisper tiny.en + Piper, caller stopped -> first agent audio.
4. static prompts: a fixed flow prompt handed to the speech path -> its first audio out,
   Piper straight and through the warmed TTS cache (`bench.prompts`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.bench.harness import (
    LONG_ASK,
    REALISTIC,
    SHORT_LINES,
    STOP_LINE,
    ZERO,
    BenchCall,
    CallResult,
    Latencies,
    measure,
    percentile,
    rss_mb,
    run_calls,
    script_for,
)
from callcenter.bench.prompts import bench_static_prompts
from callcenter.bench.rooms import RoomMode
from callcenter.bench.voice_mix import MIX_LINES, EscalatedCall, escalated_indices, mix_summary
from callcenter.rooms.clock import RealClock
from callcenter.testing.fakes import FakeLLM
from callcenter.testing.script import CallerScript, CallerTurn
from callcenter.testing.voices import CallerVoice
from callcenter.voice.runtime import realtime_process, settle_gc

Progress = Callable[[str], None]

TARGETS = {
    "turn_overhead_ms.p99": 10.0,
    "barge_in_ms.p99": 40.0,
    "density.max_calls": 100,
    "offline_e2e_ms.p50": 1300.0,
}
# A density step passes with fewer late frames than this and this turn overhead p99.
MAX_LATE_PCT = 0.5
MAX_DENSITY_OVERHEAD_MS = 20.0
WARMUP_S = 1.0
CALIBRATION_S = 12.0  # the media path's own delay: 2 calls for at least this long
# What `run_voice_bench(phases=...)` can run (`bench voice --phases`); media: the --room
# block, all_cores: the --processes blocks.
PHASES = ("overhead", "density", "media", "escalated", "all_cores", "offline", "prompts")


def check_phases(names: Collection[str]) -> frozenset[str]:
    """`names` as a set of phases, or a ValueError that lists the choices."""
    unknown = sorted(set(names) - set(PHASES))
    if unknown or not names:
        raise ValueError(f"unknown bench voice phase {', '.join(unknown) or '(none)'}: "
                         f"use some of {', '.join(PHASES)}")
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class BenchPlan:
    overhead_calls: int
    overhead_turns: int
    overhead_barge_ins: int
    density_ns: tuple[int, ...]
    density_seconds: float
    offline_turns: int
    # A media path's density always runs its 150-call target step (not when the steps
    # were chosen: `bench voice --steps`).
    media_target_step: bool = True

    @classmethod
    def for_mode(cls, quick: bool) -> BenchPlan:
        if quick:
            # 67 calls x 3 turns: >= 200 turns in three quarters of the wall time of 50 x 4.
            # Density windows of 5 s: after the warm-up each call still has two turns in it.
            return cls(67, 3, 1, (10, 50, 100, 200), 5.0, 3)
        return cls(50, 8, 2, (10, 50, 100, 150, 200, 300), 25.0, 12)


async def bench_overhead(plan: BenchPlan, voice: CallerVoice, progress: Progress) -> dict[str, Any]:
    progress(
        f"overhead: {plan.overhead_calls} calls x {plan.overhead_turns} turns, zero-latency fakes"
    )
    clock = RealClock()
    calls = [
        BenchCall(clock, voice, script_for(plan.overhead_turns, plan.overhead_barge_ins, seed=i,
                                           pause=(0.1, 0.3)), latencies=ZERO)
        for i in range(plan.overhead_calls)
    ]
    m = measure(await run_calls(calls))
    return {
        "turn_overhead_ms": {
            "p50": percentile(m.turn_overhead_ms, 50), "p99": percentile(m.turn_overhead_ms, 99),
            "turns": len(m.turn_overhead_ms),
        },
        "barge_in_ms": {
            "p50": percentile(m.barge_in_ms, 50), "p99": percentile(m.barge_in_ms, 99),
            "count": len(m.barge_in_ms),
        },
        "failed_calls": m.failed_calls,
        "stages_ms": m.stages(),
    }


async def bench_density_step(
    n: int, seconds: float, voice: CallerVoice, room_mode: RoomMode = "local",
    escalated_pct: float = 0.0,
) -> dict[str, Any]:
    clock = RealClock()
    rss0 = rss_mb()
    # Enough turns to keep talking through the warm-up and the whole window; calls end when
    # time is up.
    turns = max(2, int((seconds + WARMUP_S + 0.3) / 2.5) + 2)
    escalated = escalated_indices(n, escalated_pct)  # with a supervisor (`bench.voice_mix`)
    calls = [
        EscalatedCall(clock, voice, turns, seed=i) if i in escalated else
        BenchCall(clock, voice, script_for(turns, 0, seed=i, pause=(0.3, 1.5)),
                  latencies=REALISTIC, room_mode=room_mode)
        for i in range(n)
    ]
    tasks = [asyncio.get_running_loop().create_task(c.run()) for c in calls]
    # Warm-up: starting N calls in the same instant is a burst no real system sees; count
    # frames, CPU and turns only after it.
    await asyncio.sleep(WARMUP_S)
    settle_gc()  # what a worker does after admitting calls (see voice.runtime)
    await asyncio.sleep(0.3)
    counted_from = {id(c): c.room.next_frame_ms() for c in calls}
    for c in calls:
        c.session.frames_seen = c.session.late_frames = 0
    t0, c0 = time.monotonic(), time.process_time()
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    rss = rss_mb()
    for t in pending:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    partial: list[CallResult | BaseException] = []
    for c, r in zip(calls, results, strict=True):
        if isinstance(r, asyncio.CancelledError):
            # Cut off at the end of the window (the call was ended as a worker would end
            # it): what was measured so far still counts.
            partial.append(CallResult(
                c.caller.report, c.session.frames_seen, c.session.late_frames,
                lead_ms=1000.0 * REALISTIC.after_commit, turns=list(c.session.metrics),
            ))
        else:
            partial.append(r)
    for c, r in zip(calls, partial, strict=True):
        if isinstance(r, CallResult):
            r.counted_from_ms = counted_from[id(c)]
    m = measure(partial)
    late_pct = 100.0 * m.late_frames / m.frames if m.frames else 100.0
    return {
        "calls": n,
        "late_frame_pct": round(late_pct, 3),
        "cpu_pct": round(100.0 * cpu / wall, 1),
        "rss_mb": rss,
        # RSS grown while the N calls ran, per call. Memory a larger earlier step freed is
        # reused, so steps are run smallest first and this is a floor for a fresh process.
        "rss_per_call_mb": round(max(0.0, rss - rss0) / n, 3),
        "turn_overhead_p50_ms": percentile(m.turn_overhead_ms, 50),
        "turn_overhead_p99_ms": percentile(m.turn_overhead_ms, 99),
        "turns": len(m.turn_overhead_ms),
        "frames": m.frames,
        "failed_calls": m.failed_calls,
        "stages_ms": m.stages(),
        **(mix_summary(calls) if escalated else {}),
    }


async def bench_density(
    plan: BenchPlan, voice: CallerVoice, progress: Progress, room_mode: RoomMode = "local",
    escalated_pct: float = 0.0,
) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    max_calls = 0
    media = room_mode != "local"
    # A media path's target is 150 calls: that step is always run. Past the first step that
    # fails, a bigger one only loads the host (every call's native streams run real time).
    ns = sorted({*plan.density_ns, 150}) if media and plan.media_target_step else \
        plan.density_ns
    # A media path delays every turn by its own transit (SIP: two jitter buffers and four
    # 20 ms clocks; livekit: the sources' queues), which is not turn overhead. Its size is
    # the median overhead of two calls, measured first; each step is judged on what load
    # adds to it.
    path_ms: float | None = None
    calibration: dict[str, Any] | None = None
    if media:
        progress(f"density ({room_mode} room): the path's own delay, 2 calls")
        # Two calls give a turn or two per 5 s window once the path's delay is in every
        # turn (livekit: ~0.3 s): a longer window, so the calibration always has turns.
        calib = await bench_density_step(2, max(plan.density_seconds, CALIBRATION_S), voice,
                                         room_mode)
        calibration = {k: calib[k] for k in (
            "calls", "turns", "turn_overhead_p50_ms", "turn_overhead_p99_ms", "late_frame_pct")}
        path_ms = calib["turn_overhead_p50_ms"]
        await asyncio.sleep(0.5)
    for n in ns:
        progress(f"density ({room_mode} room): {n} concurrent calls for "
                 f"{plan.density_seconds:g} s")
        step = await bench_density_step(n, plan.density_seconds, voice, room_mode,
                                        escalated_pct)
        steps[str(n)] = step
        p99 = step["turn_overhead_p99_ms"]
        if media:
            # No turn in the calibration (a host too busy to measure): nothing passes.
            p99 = None if p99 is None or path_ms is None else round(p99 - path_ms, 2)
            step["added_overhead_p99_ms"] = p99
        late_ok = step["late_frame_pct"] < MAX_LATE_PCT
        passed = late_ok and p99 is not None and p99 < MAX_DENSITY_OVERHEAD_MS
        if passed:
            max_calls = max(max_calls, n)
        await asyncio.sleep(0.5)  # let the previous step's tasks wind down
        if media and not passed:
            break
    # Per-call memory from the largest step: the most calls over what the process holds.
    largest = steps[max(steps, key=int)]
    block: dict[str, Any] = {"room": room_mode, "steps": steps, "max_calls": max_calls,
                             "rss_per_call_mb": largest["rss_per_call_mb"]}
    if media:
        block["path_ms"] = path_ms
        block["path_calibration"] = calibration
    if escalated_pct:
        block["escalated_pct"] = escalated_pct
    return block


async def bench_offline(plan: BenchPlan, progress: Progress) -> dict[str, Any]:
    try:
        from callcenter.speech.offline.piper import PiperTTS
        from callcenter.speech.offline.whisper import WhisperSTT
    except ImportError as exc:  # pragma: no cover - depends on the install
        return {"skipped": f"offline stack not installed ({exc}); pip install 'callcenter[local]'"}
    progress(f"offline: Silero + Whisper tiny.en + Piper, {plan.offline_turns} turns")
    stt, tts = WhisperSTT(), PiperTTS(8000)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, stt.warm_up)
    await loop.run_in_executor(None, tts.warm_up)
    voice = CallerVoice("piper", "phone")
    lines = ["I want to check my order status", "my order number is four eight two nine",
             "can you send it to my new address", "please put me through to a person"]
    turns: list[CallerTurn] = []
    for i in range(plan.offline_turns):
        turns += [
            CallerTurn("say", text=lines[i % len(lines)]),
            CallerTurn("wait", agent_done=True),
            CallerTurn("wait", seconds=0.3),
        ]
    for line in lines[: plan.offline_turns]:  # synthesize before the clock starts
        await loop.run_in_executor(None, voice.speak, line)
    clock = RealClock()
    call = BenchCall(
        clock, voice, CallerScript(turns, voice="piper", channel="phone"),
        stt=stt, tts=tts, llm=FakeLLM("Sure, one moment while I look that up.", clock=clock),
        batched_vad=False, comfort_noise=0,
    )
    m = measure(await run_calls([call]))
    await stt.aclose()
    await tts.aclose()
    return {
        "p50": percentile(m.e2e_ms, 50), "p95": percentile(m.e2e_ms, 95), "turns": len(m.e2e_ms),
        "stages_ms": m.stages(),
    }


async def run_voice_bench(
    *, quick: bool, progress: Progress = lambda _: None, room: RoomMode = "local",
    escalated_pct: float = 20.0, processes: int = 1,
    phases: Collection[str] = PHASES, density_steps: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """Run every phase (or only `phases`, see `PHASES`) and return the JSON-ready result.

    `room` other than local adds a density phase through that media path
    (`density_livekit`, `density_sip`: see `bench.rooms`). `escalated_pct` > 0 adds
    `density_escalated` (that share of calls with a supervisor: `bench.voice_mix`);
    `processes` > 1 adds `density_all_cores` (`bench.voice_cores`). `density_steps`
    replaces the one-process density steps (sorted; a media path then runs only those).
    """
    run = check_phases(phases)
    plan = BenchPlan.for_mode(quick)
    if density_steps:
        plan = dataclasses.replace(plan, density_ns=tuple(sorted(set(density_steps))),
                                   media_target_step=False)
    voice = CallerVoice("espeak", "phone")
    loop = asyncio.get_running_loop()
    for line in (*SHORT_LINES, LONG_ASK, STOP_LINE, *MIX_LINES):
        await loop.run_in_executor(None, voice.speak, line)
    # As a worker does once its models are loaded (callsession.handler.process_speech): the
    # CLI's ~1,300 imported modules otherwise sit in every full collection the calls trigger.
    realtime_process()
    t0 = time.monotonic()
    result: dict[str, Any] = {"mode": "quick" if quick else "full"}
    if set(run) != set(PHASES):
        result["phases_run"] = sorted(run)
    took: dict[str, float] = {}
    if "overhead" in run:
        result.update(await bench_overhead(plan, voice, progress))
        took["overhead"] = round(time.monotonic() - t0, 1)
    if "density" in run:
        result["density"] = await bench_density(plan, voice, progress)
        took["density"] = round(time.monotonic() - t0 - sum(took.values()), 1)
    if room != "local" and "media" in run:
        result[f"density_{room}"] = await bench_density(plan, voice, progress, room)
        took[f"density_{room}"] = round(time.monotonic() - t0 - sum(took.values()), 1)
    if escalated_pct and "escalated" in run:
        result["density_escalated"] = await bench_density(
            plan, voice, progress, escalated_pct=escalated_pct)
        took["density_escalated"] = round(time.monotonic() - t0 - sum(took.values()), 1)
    if processes > 1 and "all_cores" in run:
        from callcenter.bench.voice_cores import all_cores_phases

        media = result.get(f"density_{room}", {})
        result.update(await all_cores_phases(
            quick, plan.density_seconds, progress, processes=processes, room_mode=room,
            escalated_pct=escalated_pct, path_ms=media.get("path_ms")))
        took["density_all_cores"] = round(time.monotonic() - t0 - sum(took.values()), 1)
    if "offline" in run:
        result["offline_e2e_ms"] = await bench_offline(plan, progress)
        took["offline"] = round(time.monotonic() - t0 - sum(took.values()), 1)
    if "prompts" in run:
        progress("static prompts: first audio with Piper, without and with the TTS cache")
        result["static_prompt_first_audio_ms"] = await bench_static_prompts(
            limit=12 if quick else None)
        took["static_prompts"] = round(time.monotonic() - t0 - sum(took.values()), 1)
    result["phase_s"] = took
    result["provider_latencies_s"] = {
        "overhead": vars_of(ZERO), "density": vars_of(REALISTIC)
    }
    result["targets"] = TARGETS
    result["elapsed_s"] = round(time.monotonic() - t0, 1)
    return result


def vars_of(lat: Latencies) -> dict[str, float]:
    return {"stt_final": lat.stt_final, "llm_ttft": lat.llm_ttft, "tts_ttfb": lat.tts_ttfb}


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
