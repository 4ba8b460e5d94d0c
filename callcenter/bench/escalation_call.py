"""The call side of `callcenter bench escalation`: connect_ms and handback_ms.

Each bench call is a production call on a `LocalRoom` (real clock): a `CallSession` walks a
flow whose first node escalates, on fake speech providers, with the in-process broker, its
routing loop and the in-process control bus. A scripted supervisor waits for the offer,
lets the caller hear some hold audio, accepts, joins the caller's room and talks, then hands
the call back on the control bus. Every figure is read where the caller is: the room's mix
as the caller's `on_audio` receives it.

- `connect_ms`: `broker.accept` returns -> the first frame of the caller's mix that carries
  the supervisor's (non-silent) audio.
- `ai_quiet_ms`: `broker.accept` returns -> the first frame of the caller's mix without the
  agent's hold audio (the call side saw the accept and went listen-only).
- `handback_ms`: the HandBack command is sent -> the first non-silent agent frame the caller
  hears (the flow's next node spoken by the TTS).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from callcenter.audio.frame import AudioFrame
from callcenter.callsession import CallSession, CallSetup, MemoryRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.control.commands import HandBack
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.escalation import (
    InProcessEscalationBroker,
    Presence,
    Queue,
    QueueEscalation,
    SupervisorStatus,
    run_routing,
)
from callcenter.escalation.metrics import percentile
from callcenter.flow.schema import Flow
from callcenter.flow.validate import check_flow_text
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import RealClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.voice import VoiceSettings

FLOW = """
name: bench_escalation
start: to_human
nodes:
  to_human:
    type: escalate
    queue: QUEUE
    reason: Bench call.
    hold_prompt: Please hold.
    position_every: 3600
    timeout: 120
    next: welcome_back
    on_timeout: bye
  welcome_back:
    type: say
    text: Thanks for waiting.
    next: bye
  bye:
    type: hangup
    say: Goodbye.
"""
RATE = 8000
AUDIBLE = 300  # int16 peak: above line noise, below the hold chime and the fake TTS tone
HOLD_HEARD_S = 0.3  # the caller hears hold audio this long before the supervisor accepts
SUPERVISOR_TALKS_S = 0.4


def bench_flow(queue: str) -> Flow:
    """The bench flow escalating to `queue`: one queue per call, so each scripted
    supervisor is offered its own call (routing would otherwise pair them at random)."""
    flow, problems = check_flow_text(FLOW.replace("QUEUE", queue), "bench_escalation.yaml")
    if flow is None:
        raise RuntimeError(f"the bench flow does not validate: {problems}")
    return flow


@dataclass
class _Ear:
    """The caller's ear: who it heard in each frame of its mix, and when."""

    agent: str
    supervisor: str
    # (arrival time, agent in the mix, agent heard loud, supervisor heard loud)
    frames: list[tuple[float, bool, bool, bool]] = field(default_factory=list)

    def __call__(self, frame: AudioFrame, who: tuple[str, ...]) -> None:
        loud = bool(len(frame.samples)) and int(np.abs(frame.samples).max()) > AUDIBLE
        a, s = self.agent in who, self.supervisor in who
        # Only one of them talks at a time here, so a loud mix is the one who is in it.
        self.frames.append((time.perf_counter(), a, a and loud and not s, s and loud))

    def first(self, t0: float, pick: int, want: bool = True) -> float | None:
        """The first frame at or after `t0` whose field `pick` (1..3) is `want`."""
        return next((f[0] for f in self.frames if f[0] >= t0 and f[pick] is want), None)

    async def wait(self, t0: float, pick: int, timeout: float, what: str) -> float:
        deadline = time.perf_counter() + timeout
        while (t := self.first(t0, pick)) is None:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the caller never heard {what}")
            await asyncio.sleep(0.005)
        return t


IN_MIX, AGENT_LOUD, SUPERVISOR_LOUD = 1, 2, 3


def _tone(seconds: float, hz: float = 300.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


async def one_call(n: int, broker: InProcessEscalationBroker,
                   bus: InProcessControlBus) -> dict[str, float]:
    """One escalated call, taken and handed back; its three figures in ms."""
    call_id, sup, flow = f"bench-esc-{n}", f"bench-sup-{n}", bench_flow(f"bench_{n + 1}")
    clock = RealClock()
    room, board = LocalRoom(call_id, clock=clock), SpeechBoard()
    ear = _Ear(room.local_identity, sup)
    room.join("caller", ParticipantKind.CALLER, sample_rate=RATE, on_audio=ear)
    lease = Lease(call_id=call_id, worker_id="bench", token=1)
    async with httpx.AsyncClient() as http:
        session = CallSession(CallSetup(
            room=room, info=CallInfo(call_id=call_id, room_name=room.name), flow=flow,
            stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
            recorder=MemoryRecorder(), voice_settings=VoiceSettings(input_rate=RATE),
            clock=clock, http=http, batched_vad=True,  # as the worker runs calls
            escalations=QueueEscalation(broker, update_s=1.0),
            serve_commands=lambda h: bus.serve(lease, h),
        ))
        await broker.heartbeat(Presence(sup, capacity=1, skills=frozenset({f"q{n + 1}"})))
        run = asyncio.ensure_future(session.run())
        try:
            return await _take_and_hand_back(call_id, sup, broker, bus, room, ear, session)
        finally:
            await asyncio.wait_for(run, 30)
            room.close()
            # Gone for good: routing must not offer the next bench call to a dead console.
            await broker.set_status(sup, SupervisorStatus.AWAY)


async def _take_and_hand_back(call_id: str, sup: str, broker: InProcessEscalationBroker,
                              bus: InProcessControlBus, room: LocalRoom, ear: _Ear,
                              session: CallSession) -> dict[str, float]:
    offer = await broker.next_offer(sup, timeout=30)
    if offer is None or offer.call_id != call_id:
        raise RuntimeError(f"{sup} was not offered {call_id}")
    # Accept once the prompt is over and hold audio plays (accepting mid-prompt lets the
    # prompt finish first, by design, which would measure the prompt, not the hand-over).
    while not session.voice.utterances:
        await asyncio.sleep(0.01)
    await asyncio.sleep(HOLD_HEARD_S)
    if await broker.accept(offer.offer_id, sup) is None:
        raise RuntimeError(f"{sup} could not accept {call_id}")
    t_accept = time.perf_counter()
    person = room.join(sup, ParticipantKind.SUPERVISOR, sample_rate=RATE)
    person.push_audio(_tone(SUPERVISOR_TALKS_S))
    heard = await ear.wait(t_accept, SUPERVISOR_LOUD, 5, "the supervisor")
    quiet = ear.first(t_accept, IN_MIX, want=False)
    await asyncio.sleep(SUPERVISOR_TALKS_S)
    deadline = time.perf_counter() + 10
    while session.state.status != "escalated" or quiet is None:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{call_id}: the AI never went quiet for the supervisor")
        await asyncio.sleep(0.005)
        quiet = ear.first(t_accept, IN_MIX, want=False)
    t_back = time.perf_counter()
    await bus.send(call_id, HandBack(issued_by=sup))
    t_ai = await ear.wait(t_back, AGENT_LOUD, 10, "the agent after the hand-back")
    person.leave()
    return {"connect_ms": 1000 * (heard - t_accept), "ai_quiet_ms": 1000 * (quiet - t_accept),
            "handback_ms": 1000 * (t_ai - t_back)}


def _summary(values: list[float]) -> dict[str, Any]:
    return {"p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": round(max(values), 3) if values else None, "calls": len(values)}


async def measure_call_side(calls: int = 30, concurrency: int = 5) -> dict[str, Any]:
    """`calls` bench calls, `concurrency` at a time, on one in-process broker and bus."""
    queues = [Queue(f"bench_{n + 1}", skills=frozenset({f"q{n + 1}"}), accept_timeout_s=30.0)
              for n in range(-1, calls)]
    broker, bus = InProcessEscalationBroker(queues), InProcessControlBus()
    stop = asyncio.Event()
    router = asyncio.ensure_future(run_routing(broker, interval_s=0.05, stop=stop))
    figures: list[dict[str, float]] = []
    gate = asyncio.Semaphore(concurrency)

    async def gated(n: int) -> None:
        async with gate:
            figures.append(await one_call(n, broker, bus))

    try:
        # The first call in a process loads the VAD model (a few hundred ms on the loop):
        # a worker pays that once at start, not per escalation, so it is not timed.
        await one_call(-1, broker, bus)
        await asyncio.gather(*(gated(n) for n in range(calls)))
    finally:
        stop.set()
        await asyncio.wait_for(router, 5.0)
        await broker.aclose()
    return {
        name: _summary([f[name] for f in figures])
        for name in ("connect_ms", "ai_quiet_ms", "handback_ms")
    } | {"concurrent_calls": concurrency, "warmup_calls": 1,
         "speech": "fake STT/TTS (no synthesis latency), batched Silero VAD as in the worker"}
