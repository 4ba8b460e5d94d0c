"""CallSession: walk a flow on a live call.

The loop is: runner.step(event) -> actions -> perform them on the voice session -> the
event they produce -> runner.step ... Performing an action is the only place with IO.
After every step the session saves a checkpoint (runner state, pending actions, sequence
numbers) so another worker can resume the call without asking the caller again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from pydantic import TypeAdapter

from callcenter.audio.frame import AudioFrame
from callcenter.callsession.apology import play
from callcenter.callsession.effects import IntentService, call_webhook, run_agent_turn
from callcenter.callsession.listen import listen
from callcenter.callsession.recorder import CallInfo, CallRecorder
from callcenter.callsession.services import EscalationBroker, NoSupervisors
from callcenter.flow.actions import (
    Action,
    AgentTurn,
    CallWebhook,
    ClassifyIntent,
    Escalate,
    Hangup,
    Listen,
    RecordEvent,
    Say,
    Transfer,
)
from callcenter.flow.events import (
    AgentReply,
    CallStarted,
    Event,
    MaxDuration,
    ProviderFailure,
)
from callcenter.flow.runner import FlowRunner
from callcenter.flow.schema import Flow
from callcenter.flow.state import RunnerState
from callcenter.models import CallStatus
from callcenter.rooms.base import ParticipantKind, Room
from callcenter.rooms.clock import Clock, RealClock
from callcenter.speech.base import LLM, STT, TTS
from callcenter.speech.cloud_usage import CALL_USAGE, UsageRecorder
from callcenter.voice import SpeechHandle, VoiceSession, VoiceSettings
from callcenter.voice.events import Utterance as VoiceUtterance

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
    escalations: EscalationBroker = field(default_factory=NoSupervisors)
    http: httpx.AsyncClient | None = None
    checkpoint: Checkpointer | None = None
    resume: dict[str, Any] | None = None
    # Wall-clock time of call start; tests pin it to decide business hours.
    started_at: dt.datetime | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    on_turn_latency: Callable[[float], None] | None = None
    # Played when the TTS fails outright (see apology.py); rendered once per process.
    apology: AudioFrame | None = None


@dataclass
class CallOutcome:
    status: str
    reason: str
    state: RunnerState
    metrics: dict[str, Any]


class CallSession:
    """Runs one call to its end. See the module docstring for the loop."""

    def __init__(self, setup: CallSetup) -> None:
        self.s = setup
        self.runner = FlowRunner(setup.flow)
        self.clock = setup.clock or getattr(setup.room, "clock", None) or RealClock()
        self.voice = VoiceSession(
            setup.room, stt=setup.stt, tts=setup.tts, llm=setup.llm,
            settings=setup.voice_settings, clock=self.clock, batched_vad=setup.batched_vad,
        )
        self.intents = setup.intents
        self.state = self.runner.new_state()
        self._utt_seq = 0
        self._event_seq = 0
        self._offset_ms = 0.0  # media time already elapsed on earlier workers
        self._t0 = self.clock.now()
        self._wall0 = setup.started_at or dt.datetime.now(dt.UTC)
        self._writes: set[asyncio.Task[None]] = set()
        self._spoken_stream: str | None = None
        self._last_handle: SpeechHandle | None = None
        self._turns_reported: set[int] = set()  # voice.metrics indexes sent to on_turn_latency
        self._callers: set[str] = set()
        self._swallow: str | None = None
        self.usage = UsageRecorder()
        self._own_http = setup.http is None
        self.http = setup.http or httpx.AsyncClient()

    # ------------------------------------------------------------------ main loop

    async def run(self) -> CallOutcome:
        # Every provider stream this call's tasks open reports its usage here (cost records).
        CALL_USAGE.set(self.usage)
        status, reason = CallStatus.ENDED, "completed"
        resumed = self.s.resume is not None
        self.voice.on_utterance(self._on_utterance)
        await self.voice.start()
        self._is_caller("")  # learn who the callers are while they are here
        await self.s.recorder.call_started(self.s.info, resumed=resumed)
        try:
            actions = await self._begin()
            while True:
                event = await self._perform(actions)
                if event is None:
                    break
                self.state, actions = self.runner.step(self.state, self._stamp(event))
                await self._save(actions)
            # One vocabulary for end reasons, shared with post-call dispositions; the
            # flow's own words stay on the `call_ended` timeline event.
            reason = _END_REASONS.get(self.state.outcome or "", "caller_hangup")
        except asyncio.CancelledError:
            # The worker is stopping or lost its lease: the call goes on elsewhere from the
            # last checkpoint, so it is not over and gets no end record from us.
            status, reason = CallStatus.ACTIVE, ""
            raise
        except Exception as exc:  # the caller must hear something, and the record must close
            status, reason = CallStatus.FAILED, f"error: {type(exc).__name__}"
            with contextlib.suppress(Exception):
                await self.voice.say(APOLOGY_LINE, interruptible=False).wait()
            raise
        finally:
            metrics = await self._finish(status, reason)
        return CallOutcome(status, reason, self.state, metrics)

    async def _begin(self) -> list[Action]:
        resume = self.s.resume
        if resume is None:
            self.state, actions = self.runner.step(
                self.state,
                CallStarted(
                    now=self._now(), call_id=self.s.info.call_id,
                    caller_id=self.s.info.caller_number, dialed_number=self.s.info.dialed_number,
                    variables=self.s.variables,
                ),
            )
            await self._save(actions)
            return actions
        self.state = RunnerState.model_validate(resume["state"])
        self._utt_seq = int(resume.get("utt_seq", 0)) + 1000  # never collide with lost writes
        self._event_seq = int(resume.get("event_seq", 0)) + 1000
        self._offset_ms = float(resume.get("offset_ms", 0.0))
        if "wall0" in resume:
            self._wall0 = dt.datetime.fromisoformat(resume["wall0"])
        pending = _ACTIONS.validate_python(resume.get("pending", []))
        await self._record("call_resumed", {"node": self.state.node})
        self._last_handle = self.voice.say(RECOVERY_LINE)
        # Prompts were heard before the crash: only re-arm what the call was waiting for.
        return [a for a in pending if not isinstance(a, Say | RecordEvent)]

    async def _perform(self, actions: list[Action]) -> Event | None:
        """Do the actions in order; return the event the last one produced (None: call over)."""
        for i, action in enumerate(actions):
            if isinstance(action, Hangup | Transfer):
                # The timeline entries after a hang-up (call_ended) belong to this call too.
                for later in actions[i + 1 :]:
                    if isinstance(later, RecordEvent):
                        await self._record(later.event, later.data)
            match action:
                case RecordEvent():
                    await self._record(action.event, action.data)
                case Say():
                    if self._spoken_stream is not None and action.text == self._spoken_stream:
                        self._spoken_stream = None  # already streamed while the LLM wrote it
                        continue
                    self._last_handle = self.voice.say(
                        action.text, interruptible=action.interruptible
                    )
                case Listen():
                    # Waits for the prompt; a caller answer that barged in stays queued.
                    failure = await self._speech_failed()
                    if failure is not None:
                        return failure
                    self._last_handle = None
                    result, self._swallow = await listen(
                        self.voice, action, self._is_caller, self._swallow
                    )
                    return result
                case CallWebhook():
                    return await call_webhook(action, self.http)
                case ClassifyIntent():
                    return await self._classify(action)
                case AgentTurn():
                    return await self._agent_turn(action)
                case Escalate():
                    return await self._escalate(action)
                case Transfer():
                    await self._transfer(action)
                    return None
                case Hangup():
                    await self._hang_up(action.reason)
                    return None
        if self.state.ended:
            return None
        raise RuntimeError(
            f"flow {self.s.flow.name!r} stopped at node {self.state.node!r} without waiting "
            "for anything: this is a runner bug, please report it with the flow file"
        )

    # ------------------------------------------------------------------ actions

    async def _speech_failed(self) -> Event | None:
        """If the prompt could not be spoken (every TTS failed), apologise and tell the flow.

        The caller must never wait in silence for an answer to a question never heard.
        """
        handle = self._last_handle
        if handle is None:
            return None
        await handle.wait()
        if handle.error is None or handle.heard_text.strip() == handle.planned_text.strip():
            return None
        await self._record("provider_failure", {"component": "tts", "error": str(handle.error)})
        if self.s.apology is not None:
            await play(self.s.room.audio_output, self.s.apology)
        self._last_handle = None
        return ProviderFailure(component="tts", message=str(handle.error))

    async def _classify(self, action: ClassifyIntent) -> Event:
        if self.intents is None:
            return ProviderFailure(component="intents", message="no intent classifier configured")
        # Embedding is CPU work (~20 ms, more on first use): keep it off the event loop.
        return await self.clock.run_blocking(self.intents.classify, action)

    async def _agent_turn(self, action: AgentTurn) -> Event:
        llm = self.s.llm
        if llm is None:
            return ProviderFailure(component="llm", message="no LLM configured for agent nodes")
        deltas: asyncio.Queue[str | None] = asyncio.Queue()

        async def text() -> AsyncIterator[str]:
            while (delta := await deltas.get()) is not None:
                yield delta

        # Speak while the model writes: the first clause plays before the reply is complete.
        handle = self.voice.say(text())
        self._last_handle = handle
        try:
            reply = await run_agent_turn(action, llm, on_text=deltas.put_nowait)
        finally:
            deltas.put_nowait(None)
        if isinstance(reply, AgentReply):
            self._spoken_stream = reply.text
        return reply

    async def _escalate(self, action: Escalate) -> Event:
        if action.hold_prompt:
            self._last_handle = self.voice.say(action.hold_prompt, interruptible=False)
        result = await self.s.escalations.request(self.s.info.call_id, action)
        status = {"connected": "active", "handed_back": "handed_back"}.get(
            result.outcome, "timed_out"
        )
        priority = {"low": 0, "normal": 1, "high": 2, "urgent": 3}.get(str(action.priority), 1)
        await self.s.recorder.escalation(action.queue, priority, action.reason, status)
        if self._last_handle is not None:
            await self._last_handle.wait()
        return result

    async def _transfer(self, action: Transfer) -> None:
        if self._last_handle is not None:
            await self._last_handle.wait()
        await self._record("transferred", {"to": action.target})
        transfer = getattr(self.s.room, "transfer", None)
        if transfer is None:
            await self._record("transfer_unsupported", {"room": type(self.s.room).__name__})
        else:
            await transfer(action.target)
        await self.s.room.hangup()

    async def _hang_up(self, reason: str) -> None:
        if self._last_handle is not None:
            await self._last_handle.wait()  # let the goodbye finish
        await self.voice.room.audio_output.wait_for_playout()
        await self.s.room.hangup()

    # ------------------------------------------------------------------ bookkeeping

    def _is_caller(self, identity: str) -> bool:
        # Remembered, because a caller who hung up is no longer among the participants.
        if identity in self._callers:
            return True
        for p in self.s.room.participants():
            if p.kind == ParticipantKind.CALLER:
                self._callers.add(p.identity)
        return identity in self._callers

    def _now(self) -> dt.datetime:
        return self._wall0 + dt.timedelta(seconds=self.clock.now() - self._t0)

    def _stamp(self, event: Event) -> Event:
        handler = self.s.flow.handlers.max_duration
        elapsed = (self._now() - self._wall0).total_seconds() + self._offset_ms / 1000.0
        if handler and not self.state.max_duration_fired and elapsed >= handler.seconds:
            return MaxDuration(now=self._now())
        return event.model_copy(update={"now": self._now()})

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

    async def _record(self, type_: str, data: dict[str, Any]) -> None:
        seq = self._event_seq
        self._event_seq += 1
        await self.s.recorder.event(seq, type_, self._media_ms(), data)

    async def _save(self, pending: list[Action]) -> None:
        if self.s.checkpoint is None:
            return
        await self.s.checkpoint({
            "state": self.state.model_dump(mode="json"),
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
        await self.voice.aclose()
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        metrics = self.metrics()
        if status != CallStatus.ACTIVE:
            await self.s.recorder.call_ended(status, reason, metrics, self.usage.totals())
        if self._own_http:
            await self.http.aclose()
        return metrics
