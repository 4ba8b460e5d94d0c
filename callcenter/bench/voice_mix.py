"""The escalated mix of `bench voice`: a share of the calls is with a supervisor.

An escalated bench call is taken over the way a console's "take over" does it: a
`TakeOver` command on the control bus, served by the call itself (`CallCommands`), so the
interpreter applies the production escalation effects (AI listen-only, the escalation
record, the hand-off brief). Then a supervisor participant joins the caller's room and
the two talk in turns. The AI hears both: one VAD and one STT stream per speaker, every
line transcribed, and it publishes no audio. Only the caller's side (frames, late
frames) and the agent's silence are measured on such a call: it has no agent turns.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random

from callcenter.bench.harness import REALISTIC, BenchCall, CallResult, Latencies
from callcenter.control.bus import CommandHandler, ServeHandle
from callcenter.control.commands import TakeOver
from callcenter.control.errors import CallNotLive
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.store import Lease
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import Clock
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.script import CallerScript, CallerTurn
from callcenter.testing.voices import CallerVoice

# What the caller and the supervisor say to each other (synthesized before a run starts).
CALLER_MIX_LINES = ("my parcel never arrived", "it was the blue one", "yes that is right",
                    "okay thank you")
SUPERVISOR_LINES = ("hello this is ada from billing", "I can see your order here",
                    "I will send a new one today", "is there anything else")
MIX_LINES = CALLER_MIX_LINES + SUPERVISOR_LINES
SUPERVISOR_ID = "sup-bench"
# How long a take-over may take to reach the call (it registers on the bus as it starts).
_TAKE_OVER_S = 5.0


def escalated_indices(n: int, pct: float) -> set[int]:
    """Which of `n` calls are escalated for `pct` % of them, spread evenly (so every
    process of an all-cores run, and every start-up wave, gets its share)."""
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"--escalated-pct must be between 0 and 100, not {pct:g}")
    k = round(n * pct / 100.0)
    return {int(i * n / k) for i in range(k)} if k else set()


def dialogue(turns: int, *, seed: int, supervisor: bool) -> CallerScript:
    """One side of a caller-supervisor conversation: lines with pauses where the other
    side talks (the supervisor starts half a line later, so they take turns)."""
    rnd = random.Random(seed * 2 + supervisor)
    lines = SUPERVISOR_LINES if supervisor else CALLER_MIX_LINES
    out = [CallerTurn("wait", seconds=(1.6 if supervisor else 0.6) + rnd.uniform(0.0, 0.4))]
    for i in range(turns):
        out.append(CallerTurn("say", text=lines[(seed + i) % len(lines)]))
        out.append(CallerTurn("wait", seconds=rnd.uniform(1.8, 2.6)))
    identity = SUPERVISOR_ID if supervisor else "caller"
    return dataclasses.replace(CallerScript(out, voice="espeak", channel="phone",
                                            timeout=30.0), identity=identity)


class EscalatedCall(BenchCall):
    """A bench call a supervisor takes over as it starts; caller and supervisor talk."""

    def __init__(self, clock: Clock, voice: CallerVoice, turns: int, *, seed: int,
                 latencies: Latencies = REALISTIC, comfort_noise: int = 40) -> None:
        self.bus = InProcessControlBus()
        self._seed, self._turns, self._voice = seed, turns, voice
        self._comfort_noise = comfort_noise
        super().__init__(clock, voice, dialogue(turns, seed=seed, supervisor=False),
                         latencies=latencies, comfort_noise=comfort_noise,
                         serve_commands=self._serve)
        self.supervisor: ScriptedCaller | None = None
        self.taken_over = False
        self._side: asyncio.Task[None] | None = None

    async def _serve(self, handler: CommandHandler) -> ServeHandle:
        return await self.bus.serve(Lease(call_id=self.room.name, worker_id="bench",
                                          token=1), handler)

    async def before_caller(self) -> None:
        # The caller talks to the supervisor, never to the AI: on a loaded host the
        # take-over can take longer than the caller's first pause.
        while not self.taken_over:
            if self._side is not None and self._side.done():
                self._side.result()  # the take-over failed: raise why
                return
            await self.room.clock.sleep(0.02)

    async def run(self) -> CallResult:
        self._side = side = asyncio.get_running_loop().create_task(self._supervise())
        try:
            return await super().run()
        finally:
            side.cancel()
            await asyncio.gather(side, return_exceptions=True)

    async def _supervise(self) -> None:
        clock = self.room.clock
        deadline = clock.now() + _TAKE_OVER_S
        while True:  # the call registers on the bus once it has started
            try:
                await self.bus.send(self.room.name, TakeOver(identity=SUPERVISOR_ID,
                                                             issued_by=SUPERVISOR_ID))
                break
            except CallNotLive:
                if clock.now() > deadline:
                    raise
                await clock.sleep(0.02)
        while self.call.state.status != "escalated":
            await clock.sleep(0.02)
        self.taken_over = True
        self.supervisor = ScriptedCaller(
            self.room, dialogue(self._turns, seed=self._seed, supervisor=True),
            board=self.board, voice=self._voice, comfort_noise=self._comfort_noise,
            kind=ParticipantKind.SUPERVISOR)
        await self.supervisor.run()

    def transcribed(self, role: str) -> list[str]:
        """What the AI transcribed of one side ("caller", "supervisor"), in order."""
        return [u.text for u in self.session.utterances if u.role == role]


def mix_summary(calls: list[BenchCall]) -> dict[str, int]:
    """A density step's escalated calls: how many, how many supervisor lines the AI
    transcribed, and how often the agent was heard while escalated (should be never)."""
    esc = [c for c in calls if isinstance(c, EscalatedCall)]
    return {
        "escalated_calls": len(esc),
        "taken_over": sum(c.taken_over for c in esc),
        "supervisor_lines_transcribed": sum(len(c.transcribed("supervisor")) for c in esc),
        "agent_heard_while_escalated": sum(len(c.caller.report.agent) for c in esc),
    }
