"""CallSession: walk a flow on a live call.

The flow itself is walked by the one action interpreter (`interpreter.py`) on a voice
channel; this module adds what only a voice call has: the voice session, the call record
(utterances, timeline, metrics, usage) and checkpoints. After every step the session
saves a checkpoint (runner state, pending actions, sequence numbers) so another worker can
resume the call without asking the caller again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from pydantic import TypeAdapter

from callcenter.audio.frame import AudioFrame
from callcenter.callsession.commands import CallCommands
from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import Effects, FlowInterpreter
from callcenter.callsession.recorder import CallInfo, CallRecorder
from callcenter.callsession.voice_channel import VoiceChannel
from callcenter.control.bus import CommandHandler, ServeHandle
from callcenter.control.commands import Command
from callcenter.escalation.alerts import ALERT_EVENT, AlertWatcher
from callcenter.escalation.port import CallEscalation, NoSupervisors
from callcenter.flow.actions import Action
from callcenter.flow.events import CallStarted
from callcenter.flow.schema import Flow
from callcenter.flow.state import RunnerState
from callcenter.logs import mask_shapes
from callcenter.models import CallStatus
from callcenter.rooms.base import ParticipantKind, ParticipantLeft, Room, RoomClosed, RoomEvent
from callcenter.rooms.clock import Clock, RealClock
from callcenter.speech import LLM, STT, TTS
from callcenter.speech.usage import CALL_USAGE, UsageRecorder
from callcenter.voice import VoiceSession, VoiceSettings
from callcenter.voice.events import Utterance as VoiceUtterance

log = logging.getLogger(__name__)
_ACTIONS: TypeAdapter[list[Action]] = TypeAdapter(list[Action])
Checkpointer = Callable[[dict[str, Any]], Awaitable[Any]]

_END_REASONS = {
    "completed": "completed",
    "transferred": "transferred",
    "escalated": "escalated",
    "hangup": "caller_hangup",
    "error": "error",
}
RECOVERY_LINE = "Sorry about that, we had a brief technical problem. I'm back with you."
APOLOGY_LINE = "I'm sorry, I'm having technical difficulties right now."
APOLOGY_TIMEOUT_S = 15.0


@dataclass
class CallSetup:
    """Everything one call needs. Providers are shared across calls in a process."""

    room: Room
    info: CallInfo
    flow: Flow
    stt: STT
    tts: TTS
    recorder: CallRecorder
    llm: LLM | None = None
    # None: agent nodes cannot classify (a ProviderFailure follows the flow's error route).
    intents: IntentService | None = None
    voice_settings: VoiceSettings | None = None
    clock: Clock | None = None
    batched_vad: bool = False
    escalations: CallEscalation = field(default_factory=NoSupervisors)
    http: httpx.AsyncClient | None = None
    checkpoint: Checkpointer | None = None
    resume: dict[str, Any] | None = None
    # Wall-clock time of call start; tests pin it to decide business hours.
    started_at: dt.datetime | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    on_turn_latency: Callable[[float], None] | None = None
    # Played when the TTS fails outright (see apology.py); rendered once per process.
    apology: AudioFrame | None = None
    # Serves call-control commands (a supervisor's console, the API) for this call while
    # it runs: the worker's `JobContext.serve_commands`. None: the call takes no commands.
    serve_commands: Callable[[CommandHandler], Awaitable[ServeHandle]] | None = None
    # Phrases that flag the live call on the console (the WATCH_PHRASES setting); the
    # flow's own `watch_phrases` are added to them.
    watch_phrases: tuple[str, ...] = ()


@dataclass
class CallOutcome:
    status: str
    reason: str
    state: RunnerState
    metrics: dict[str, Any]


class CallSession:
    """Runs one call to its end: the flow interpreter on a voice channel, with its record."""

    def __init__(self, setup: CallSetup) -> None:
        self.s = setup
        self.clock = setup.clock or setup.room.clock or RealClock()
        self.voice = VoiceSession(
            setup.room, stt=setup.stt, tts=setup.tts,
            settings=setup.voice_settings, clock=self.clock, batched_vad=setup.batched_vad,
        )
        self._utt_seq = 0
        self._event_seq = 0
        self._offset_ms = 0.0  # media time already elapsed on earlier workers
        self._t0 = self.clock.now()
        self._wall0 = setup.started_at or dt.datetime.now(dt.UTC)
        self._writes: set[asyncio.Task[None]] = set()
        self._turns_reported: set[int] = set()  # voice.metrics indexes sent to on_turn_latency
        self._callers: set[str] = set()
        self._pending: list[Action] = []  # what the last checkpoint said the call waits for
        self._alerts = AlertWatcher([*setup.watch_phrases, *setup.flow.watch_phrases])
        self._task: asyncio.Task[Any] | None = None  # the task running `run`
        self._abort: str | None = None  # why `abort` ended the call
        self._caller_left = False
        self._room_gone: str | None = None  # the room closed under a caller still on the line
        self.usage = UsageRecorder()
        self._own_http = setup.http is None
        self.http = setup.http or httpx.AsyncClient()
        self.flow = FlowInterpreter(
            setup.flow,
            VoiceChannel(self.voice, setup.room, self._is_caller, setup.apology),
            Effects(http=self.http, llm=setup.llm, intents=setup.intents,
                    escalations=setup.escalations, run_blocking=self.clock.run_blocking),
            _CallJournal(self),
            call_id=setup.info.call_id, now=self._now, elapsed_s=self._elapsed_s,
            on_step=self._save,
        )

    @property
    def state(self) -> RunnerState:
        """Where the call is in its flow (the interpreter's state)."""
        return self.flow.state

    # ------------------------------------------------------------------ main loop

    def abort(self, reason: str) -> None:
        """End the call now as failed with `reason` (its owner gave up on it: a test caller
        that broke, a time limit). Unlike a cancellation, the call is not resumed anywhere,
        so `run` records the end and returns the failed outcome."""
        if self._abort is not None:
            return
        self._abort = reason
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def run(self) -> CallOutcome:
        # Every provider stream this call's tasks open reports its usage here (cost records).
        CALL_USAGE.set(self.usage)
        self._task = asyncio.current_task()
        if self._abort is not None and self._task is not None:
            self._task.cancel()  # aborted before it started: ends at the first await below
        status, reason = CallStatus.ENDED, "completed"
        resumed = self.s.resume is not None
        self.voice.on_utterance(self._on_utterance)
        served: ServeHandle | None = None
        try:
            self.s.room.on_event(self._on_room_event)
            await self.voice.start()
            self._is_caller("")  # learn who the callers are while they are here
            await self.s.recorder.call_started(self.s.info, resumed=resumed)
            if self.s.serve_commands is not None:
                served = await self.s.serve_commands(CallCommands(self))
            await self.flow.run(await self._begin())
            if self.voice.failure is not None:
                raise self.voice.failure  # the agent went deaf: the flow ended on it
            # One vocabulary for end reasons, shared with post-call dispositions; the
            # flow's own words stay on the `call_ended` timeline event.
            reason = _END_REASONS.get(self.state.outcome or "", "caller_hangup")
            if self._room_gone is not None and self.state.outcome in (None, "hangup"):
                # Not the caller hanging up: the room (or our connection to it) went away.
                status, reason = CallStatus.FAILED, f"room_closed: {self._room_gone}"
        except asyncio.CancelledError:
            if self._abort is not None and self._task is not None:
                self._task.uncancel()
                status, reason = CallStatus.FAILED, self._abort
                await self._apologise()
            else:
                # The worker is stopping or lost its lease: the call goes on elsewhere from
                # the last checkpoint, so it is not over and gets no end record from us.
                status, reason = CallStatus.ACTIVE, ""
                raise
        except Exception as exc:  # the caller must hear something, and the record must close
            # The record is read by admins: what looks like a credential is masked.
            status, reason = CallStatus.FAILED, mask_shapes(f"error: {type(exc).__name__}: {exc}")
            await self._apologise()
            raise
        finally:
            if served is not None:
                with contextlib.suppress(Exception):
                    await served.aclose()
            metrics = await self._finish(status, reason)
        return CallOutcome(status, reason, self.state, metrics)

    async def _apologise(self) -> None:
        # Bounded: on a room that went away the line may never play out.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.voice.say(APOLOGY_LINE, interruptible=False).wait(),
                                   APOLOGY_TIMEOUT_S)

    async def _begin(self) -> list[Action]:
        resume = self.s.resume
        if resume is None:
            return await self.flow.start(CallStarted(
                call_id=self.s.info.call_id, caller_id=self.s.info.caller_number,
                dialed_number=self.s.info.dialed_number, variables=self.s.variables,
            ))
        self._utt_seq = int(resume.get("utt_seq", 0)) + 1000  # never collide with lost writes
        self._event_seq = int(resume.get("event_seq", 0)) + 1000
        self._offset_ms = float(resume.get("offset_ms", 0.0))
        if "wall0" in resume:
            self._wall0 = dt.datetime.fromisoformat(resume["wall0"])
        actions = self.flow.resume(RunnerState.model_validate(resume["state"]),
                                   _ACTIONS.validate_python(resume.get("pending", [])))
        await self._record("call_resumed", {"node": self.state.node})
        # The checkpoint now names this worker, even if the call goes straight back to
        # waiting (on hold in a queue) with no step for a while.
        await self._save(self.state, actions)
        if self.state.status == "escalated":
            # A person has the call: the new worker listens on quietly, no recovery line.
            await self.voice.set_listen_only(True)
            return actions
        self.flow.last_spoken = self.voice.say(RECOVERY_LINE)
        return actions

    # ------------------------------------------------------------------ bookkeeping

    def _is_caller(self, identity: str) -> bool:
        # Remembered, because a caller who hung up is no longer among the participants.
        if identity in self._callers:
            return True
        for p in self.s.room.participants():
            if p.kind == ParticipantKind.CALLER:
                self._callers.add(p.identity)
        return identity in self._callers

    def _on_room_event(self, ev: RoomEvent) -> None:
        if isinstance(ev, ParticipantLeft) and self._is_caller(ev.participant.identity):
            self._caller_left = True
        elif (isinstance(ev, RoomClosed) and not self._caller_left
              and self.state.outcome is None):
            self._room_gone = ev.reason or "closed"

    def _now(self) -> dt.datetime:
        return self._wall0 + dt.timedelta(seconds=self.clock.now() - self._t0)

    def _elapsed_s(self) -> float:
        return (self._now() - self._wall0).total_seconds() + self._offset_ms / 1000.0

    def _media_ms(self) -> int:
        return int(self._offset_ms + self.voice.media_now())

    def _on_utterance(self, u: VoiceUtterance) -> None:
        seq = self._utt_seq
        self._utt_seq += 1
        shifted = VoiceUtterance(
            role=u.role, identity=u.identity, text=u.text,
            start_ms=u.start_ms + self._offset_ms, end_ms=u.end_ms + self._offset_ms,
            interrupted=u.interrupted, planned_text=u.planned_text,
        )
        task = asyncio.get_running_loop().create_task(self.s.recorder.utterance(seq, shifted))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        if u.role == ParticipantKind.CALLER:
            # A watched phrase or a mood drop flags the call on the console (an `alert`
            # event, which both consoles' feeds read).
            for alert in self._alerts.on_caller_line(u.text):
                write = asyncio.get_running_loop().create_task(
                    self._record(ALERT_EVENT, alert.as_dict()))
                self._writes.add(write)
                write.add_done_callback(self._writes.discard)

    async def _record(self, type_: str, data: dict[str, Any]) -> None:
        seq = self._event_seq
        self._event_seq += 1
        await self.s.recorder.event(seq, type_, self._media_ms(), data)

    async def record_command(self, command: Command, data: dict[str, Any]) -> None:
        """A call-control command on the timeline, with who issued it (the audit trail)."""
        await self._record(f"control_{command.kind}", {**data, "by": command.issued_by})
        await self._save(self.state, self._pending)  # the coached history, same waits

    async def _save(self, state: RunnerState, pending: list[Action]) -> None:
        self._pending = pending
        if self.s.checkpoint is not None:
            await self.s.checkpoint({
                "state": state.model_dump(mode="json"),
                "pending": [a.model_dump(mode="json") for a in pending],
                "utt_seq": self._utt_seq,
                "event_seq": self._event_seq,
                "offset_ms": self._offset_ms + self.voice.media_now(),
                "wall0": self._wall0.isoformat(),
            })
        # Each answered turn is reported once, however many steps it took.
        if self.s.on_turn_latency is None:
            return
        for i, m in enumerate(self.voice.metrics):
            if m.e2e_ms is not None and i not in self._turns_reported:
                self._turns_reported.add(i)
                self.s.on_turn_latency(m.e2e_ms / 1000.0)

    def metrics(self) -> dict[str, Any]:
        turns = [asdict(m) for m in self.voice.metrics]
        e2e = sorted(t["e2e_ms"] for t in turns if t.get("e2e_ms") is not None)
        out: dict[str, Any] = {"turns": turns, "path": list(self.state.path)}
        if e2e:
            out["e2e_ms_p50"] = statistics.median(e2e)
            out["e2e_ms_p95"] = e2e[min(len(e2e) - 1, int(0.95 * len(e2e)))]
        out["interruptions"] = sum(1 for t in turns if t.get("interrupted"))
        return out

    async def _finish(self, status: str, reason: str) -> dict[str, Any]:
        """Close the voice session, flush the record; returns the call's metrics."""
        try:
            await self.voice.aclose()
        except Exception:  # the record must still close
            log.exception("call %s: closing the voice session failed", self.s.info.call_id)
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        metrics = self.metrics()
        if status != CallStatus.ACTIVE:
            await self.s.recorder.call_ended(status, reason, metrics, self.usage.totals())
        if self._own_http:
            await self.http.aclose()
        return metrics


class _CallJournal:
    """The interpreter's journal for a voice call: the call's SQL/Redis record."""

    def __init__(self, call: CallSession) -> None:
        self.call = call

    async def event(self, type_: str, data: dict[str, Any]) -> None:
        await self.call._record(type_, data)

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        await self.call.s.recorder.escalation(queue, priority, reason, status, supervisor)
