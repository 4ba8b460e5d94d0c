"""Benchmark calls: LocalRoom + scripted caller + CallSession, and what to measure on them.

A bench call is a production call: `CallSession` walks a one-node flow (an LLM agent) on
the voice session, so every caller turn goes room -> voice -> flow runner -> LLM -> voice
-> room, as on a real line. Only the providers are fakes with configured latencies.

Every number comes from the caller's side of the room (ground truth): when its voice
really stopped or started (from the samples it sent) and when the agent's audio really
started or stopped (from the samples it heard).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from callcenter.bench.rooms import RoomMode, line_for
from callcenter.callsession import CallSession, CallSetup, MemoryRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.control.bus import CommandHandler, ServeHandle
from callcenter.flow.schema import Flow
from callcenter.flow.validate import load_flow
from callcenter.rooms.base import Participant, ParticipantKind
from callcenter.rooms.clock import Clock
from callcenter.rooms.local import LocalRoom
from callcenter.speech import LLM, STT, TTS, ChatMessage
from callcenter.testing.caller import CallerReport, ScriptedCaller
from callcenter.testing.fakes import FakeLLM, FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript, CallerTurn
from callcenter.testing.voices import CallerVoice
from callcenter.voice import TurnMetrics, VoiceSettings

SHORT_LINES = ("check my order", "yes please", "the blue one", "thank you", "tomorrow works")
LONG_ASK = "tell me about the delivery options"
STOP_LINE = "no wait, stop"
LONG_REPLY = (
    "We have three delivery options. Standard delivery takes three to five days and is "
    "free, express delivery takes one day, and you can also pick it up at a store near you."
)


# Every caller turn is an LLM turn: one agent node that never times out or runs out of turns.
BENCH_FLOW = """
name: bench_agent
start: talk
nodes:
  talk:
    type: agent
    instructions: Answer the caller in one short sentence.
    use_llm: true
    timeout: 120
    max_turns: 200
"""
_call_ids = itertools.count(1)
CommandServer = Callable[[CommandHandler], Awaitable[ServeHandle]]


@functools.cache
def bench_flow() -> Flow:
    return load_flow(BENCH_FLOW, "<bench>")


def _no_webhooks(request: httpx.Request) -> httpx.Response:
    # The bench flow calls none; a real client would cost ~50 ms of TLS setup per call.
    return httpx.Response(502, json={"error": "the bench makes no HTTP calls"})


def reply_for(messages: Sequence[ChatMessage]) -> str:
    last = messages[-1].content if messages else ""
    return LONG_REPLY if "tell me" in last else "Okay, got it."


@dataclass(frozen=True, slots=True)
class Latencies:
    """Fake provider latencies (seconds)."""

    stt_final: float = 0.0
    llm_ttft: float = 0.0
    tts_ttfb: float = 0.0

    @property
    def after_commit(self) -> float:
        # STT finishes inside the endpointing wait; LLM and TTS come after the commit.
        return self.llm_ttft + self.tts_ttfb


# A streaming STT's final arrives ~50 ms after the speaker stops (inside the endpointing
# wait); a hosted LLM's first token after ~350 ms; a streaming TTS's first audio ~120 ms.
REALISTIC = Latencies(stt_final=0.05, llm_ttft=0.35, tts_ttfb=0.12)
ZERO = Latencies()


@dataclass
class CallResult:
    report: CallerReport
    frames: int = 0
    late_frames: int = 0
    min_delay_ms: float = 400.0
    min_interruption_ms: float = 300.0
    lead_ms: float = 0.0  # configured provider latency after the commit
    turns: list[TurnMetrics] = field(default_factory=list)  # the voice session's own view
    # Caller lines that ended before this media time are not counted (a density step's
    # warm-up: its start-up burst and the collection after it are not steady state).
    counted_from_ms: float = 0.0


def script_for(turns: int, barge_ins: int, *, seed: int, pause: tuple[float, float]) -> (
    CallerScript
):
    rnd = random.Random(seed)
    out: list[CallerTurn] = [CallerTurn("wait", seconds=rnd.uniform(0.0, 0.5))]
    for i in range(turns):
        out.append(CallerTurn("say", text=SHORT_LINES[(seed + i) % len(SHORT_LINES)]))
        out.append(CallerTurn("wait", agent_done=True))
        out.append(CallerTurn("wait", seconds=rnd.uniform(*pause)))
    for _ in range(barge_ins):
        out.append(CallerTurn("say", text=LONG_ASK))
        out.append(CallerTurn("say", text=STOP_LINE, barge_in_after=rnd.uniform(0.4, 1.2)))
        out.append(CallerTurn("wait", agent_done=True))
        out.append(CallerTurn("wait", seconds=rnd.uniform(*pause)))
    return CallerScript(out, voice="espeak", channel="phone", timeout=30.0)


class BenchCall:
    """One simulated call. `run()` plays the script and returns what was measured."""

    def __init__(
        self,
        clock: Clock,
        voice: CallerVoice,
        script: CallerScript,
        *,
        latencies: Latencies = ZERO,
        batched_vad: bool = True,
        comfort_noise: int = 40,
        stt: STT | None = None,
        tts: TTS | None = None,
        llm: LLM | None = None,
        settings: VoiceSettings | None = None,
        room_mode: RoomMode = "local",
        serve_commands: CommandServer | None = None,
    ) -> None:
        # The caller's room; the agent hears and speaks in it through `line` (`bench.rooms`).
        self.room = LocalRoom(f"bench-{next(_call_ids)}", clock=clock, output_rate=8000)
        self.line = line_for(room_mode, self.room, Participant(
            script.identity, ParticipantKind.CALLER, script.identity, dict(script.attributes)))
        self.board = SpeechBoard()
        self.latencies = latencies
        self.settings = settings or VoiceSettings(input_rate=8000)
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(_no_webhooks))
        self.call = CallSession(CallSetup(
            room=self.line.agent_room,
            info=CallInfo(call_id=self.room.name, room_name=self.room.name),
            flow=bench_flow(),
            stt=stt or FakeSTT(self.board, clock=clock, sample_rate=8000,
                               final_latency=latencies.stt_final),
            tts=tts or FakeTTS(clock=clock, sample_rate=8000, ttfb=latencies.tts_ttfb),
            recorder=MemoryRecorder(),
            llm=llm or FakeLLM(reply_for, clock=clock, ttft=latencies.llm_ttft),
            voice_settings=self.settings,
            clock=clock,
            batched_vad=batched_vad,
            http=self.http,
            serve_commands=serve_commands,  # the escalated mix: a take-over comes by it
        ))
        # The call's voice session: frame counters, metrics.
        self.session = self.call.voice
        self.caller = ScriptedCaller(
            self.room, script, board=self.board, voice=voice, comfort_noise=comfort_noise
        )

    async def before_caller(self) -> None:
        """What must happen in the call before the caller's script starts (nothing here;
        an escalated-mix call waits for its take-over: `bench.voice_mix`)."""

    async def run(self) -> CallResult:
        """Play the script against the call; cancelled, it ends the call as a worker would."""
        await self.line.start()
        call = asyncio.get_running_loop().create_task(self.call.run())
        try:
            await self.before_caller()
            report = await self.caller.run()
            self.room.close()  # the caller is done: the room closes and the call ends
            await call  # a call that failed fails the bench call
        finally:
            if not call.done():
                call.cancel()
            await asyncio.gather(call, return_exceptions=True)
            self.room.close()
            await self.line.aclose()
            await self.http.aclose()
        s = self.settings
        return CallResult(
            report,
            frames=self.session.frames_seen,
            late_frames=self.session.late_frames,
            min_delay_ms=1000.0 * s.endpointing.min_delay,
            min_interruption_ms=1000.0 * s.interruption.min_duration_speaking,
            lead_ms=1000.0 * self.latencies.after_commit,
            turns=list(self.session.metrics),
        )


# Where an answered turn's time goes (the session's TurnMetrics, ms): endpointing is speech
# end -> turn committed (it includes waiting for the STT final), then the LLM's first
# token, the TTS's first audio, and the rest (flow step, scheduling, hand-offs).
STAGES = ("endpointing", "stt_final", "llm_first_token", "tts_first_audio", "flow_and_rest",
          "e2e")


@dataclass
class Measured:
    turn_overhead_ms: list[float] = field(default_factory=list)
    barge_in_ms: list[float] = field(default_factory=list)
    e2e_ms: list[float] = field(default_factory=list)
    frames: int = 0
    late_frames: int = 0
    failed_calls: int = 0
    stages_ms: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in STAGES})

    def add_turn(self, t: TurnMetrics) -> None:
        if t.e2e_ms is None or t.interrupted:
            return  # unanswered, or answered but cut short: no clean breakdown
        eou, llm, tts = t.end_of_utterance_delay_ms, t.llm_ttft_ms, t.tts_ttfb_ms
        parts = {"endpointing": eou, "stt_final": t.stt_final_latency_ms,
                 "llm_first_token": llm, "tts_first_audio": tts, "e2e": t.e2e_ms}
        if eou is not None:
            parts["flow_and_rest"] = t.e2e_ms - eou - (llm or 0.0) - (tts or 0.0)
        for name, v in parts.items():
            if v is not None:
                self.stages_ms[name].append(v)

    def stages(self) -> dict[str, dict[str, float | None]]:
        """p50/p95 per stage, JSON-ready."""
        return {name: {"p50": percentile(v, 50), "p95": percentile(v, 95)}
                for name, v in self.stages_ms.items() if v}


def measure(results: Sequence[CallResult | BaseException]) -> Measured:
    """Turn overhead and barge-in times from the callers' ground truth."""
    m = Measured()
    for r in results:
        if isinstance(r, BaseException):
            m.failed_calls += 1
            continue
        m.frames += r.frames
        m.late_frames += r.late_frames
        for t in r.turns:
            m.add_turn(t)
        agent = r.report.agent
        for line in r.report.said:
            if line.speech_end_ms < r.counted_from_ms:
                continue
            if line.text == STOP_LINE:
                seg = next(
                    (a for a in agent if a.start_ms <= line.speech_start_ms <= a.end_ms + 1), None
                )
                if seg is not None:
                    m.barge_in_ms.append(seg.end_ms - line.speech_start_ms - r.min_interruption_ms)
                continue
            if line.text == LONG_ASK:
                continue  # its answer is cut short on purpose by the next line
            seg = next((a for a in agent if a.start_ms >= line.speech_end_ms), None)
            if seg is not None:
                e2e = seg.start_ms - line.speech_end_ms
                m.e2e_ms.append(e2e)
                m.turn_overhead_ms.append(e2e - r.min_delay_ms - r.lead_ms)
    return m


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, round(q / 100.0 * (len(v) - 1))))
    return round(v[k], 2)


def rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError):  # pragma: no cover - non-Linux
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def run_calls(calls: Sequence[BenchCall]) -> list[CallResult | BaseException]:
    return list(await asyncio.gather(*(c.run() for c in calls), return_exceptions=True))
