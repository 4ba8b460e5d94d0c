"""A whole call in-process: a flow, a scripted caller, a LocalRoom, real or fake speech.

This is what `callcenter call` runs, and what tests use to prove a flow end to end. It is
part of the test kit because it drives a scripted caller; workers run `callsession.handler`.
With `speech="offline"` every part is the production code path except the room: Silero
VAD, Whisper, Piper and the MiniLM intents hear and speak real audio, in real time.
`speech="fake"` swaps in the scripted fakes on a virtual clock: seconds of call in
milliseconds, for fast flow checks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlalchemy.engine import Engine

from callcenter.callsession.apology import render_apology
from callcenter.callsession.effects import IntentService
from callcenter.callsession.providers import warm_up
from callcenter.callsession.recorder import CallInfo, CallRecorder, MemoryRecorder, SqlRecorder
from callcenter.callsession.session import CallOutcome, CallSession, CallSetup
from callcenter.callsession.static_prompts import static_prompts
from callcenter.flow.schema import Flow
from callcenter.models import new_call_id
from callcenter.rooms.clock import Clock, RealClock, VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.speech import STT, TTS
from callcenter.speech.factory import offline_stt, offline_tts
from callcenter.speech.tts.cache import AudioCache, CachingTTS
from callcenter.testing.caller import CallerReport, ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

SpeechMode = Literal["offline", "fake"]


@dataclass
class LocalCallResult:
    call_id: str
    outcome: str
    nodes: list[str]
    slots: dict[str, Any]
    variables: dict[str, Any]
    transcript: list[dict[str, Any]]
    turns: list[dict[str, Any]]
    caller: CallerReport
    session: CallOutcome
    caller_error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    transferred_to: str | None = None  # where a transfer node sent the caller (LocalRoom)
    # Each agent utterance's first audio once it was its turn to play (voice.SpeechTiming).
    speech: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "outcome": self.outcome,
            "nodes": self.nodes,
            "slots": self.slots,
            "variables": self.variables,
            "transcript": self.transcript,
            "turns": self.turns,
            "caller_error": self.caller_error,
            "transferred_to": self.transferred_to,
            "e2e_ms_p50": self.metrics.get("e2e_ms_p50"),
            "e2e_ms_p95": self.metrics.get("e2e_ms_p95"),
            "speech": self.speech,
        }


class _Tee:
    """Records to memory (for the result) and, optionally, to the database."""

    def __init__(self, memory: MemoryRecorder, sql: CallRecorder | None) -> None:
        self.memory, self.sql = memory, sql

    def __getattr__(self, name: str) -> Any:
        async def both(*args: Any, **kw: Any) -> None:
            await getattr(self.memory, name)(*args, **kw)
            if self.sql is not None:
                await getattr(self.sql, name)(*args, **kw)

        return both


async def run_local_call(
    flow: Flow,
    script: CallerScript,
    *,
    speech: SpeechMode = "offline",
    engine: Engine | None = None,
    started_at: dt.datetime | None = None,
    stt: STT | None = None,
    tts: TTS | None = None,
    call_timeout_s: float = 300.0,
    http: httpx.AsyncClient | None = None,
    tts_cache: bool = True,
) -> LocalCallResult:
    """Run one call to its end and return what happened.

    `tts_cache`: replay the flow's static prompts from a cache warmed before the call, as
    a worker does for its published flows (offline speech only)."""
    clock: Clock = VirtualClock() if speech == "fake" else RealClock()
    board = SpeechBoard()
    if speech == "fake":
        stt = stt or FakeSTT(board, clock=clock)
        tts = tts or FakeTTS(clock=clock)
    else:
        stt = stt or offline_stt()
        tts = tts or offline_tts(16000)

    intents = IntentService()
    if speech == "offline":
        # Models load before the phone rings, as in a worker process.
        await asyncio.to_thread(warm_up, stt, tts, intents)
        await asyncio.to_thread(intents.warm_flow, flow)  # as a worker has, after a call
        if tts_cache and not isinstance(tts, CachingTTS):
            tts = CachingTTS(tts, AudioCache())
            await tts.warm(static_prompts(flow))
    apology = await render_apology()
    call_id = new_call_id()
    room = LocalRoom(f"call-{call_id[:12]}", clock=clock)
    caller = ScriptedCaller(room, script, board=board)
    attrs = script.attributes
    memory = MemoryRecorder()
    sql = SqlRecorder(engine, clock=clock) if engine is not None else None
    rate = 8000 if script.channel == "phone" else 16000
    session = CallSession(
        CallSetup(
            room=room,
            info=CallInfo(
                call_id=call_id, room_name=room.name,
                caller_number=attrs.get("sip.phoneNumber", "+15550001111"),
                dialed_number=attrs.get("sip.trunkPhoneNumber", ""),
            ),
            # Agent nodes use the offline intent classifier in both modes: it is cheap.
            flow=flow, stt=stt, tts=tts, intents=intents,
            recorder=_Tee(memory, sql),  # type: ignore[arg-type]
            voice_settings=VoiceSettings(input_rate=rate), clock=clock, started_at=started_at,
            http=http, apology=apology,
        )
    )
    run = asyncio.ensure_future(session.run())
    caller_error: str | None = None
    try:
        await caller.run()
    except TimeoutError as exc:  # CallerTimeout: the agent did not do what the script expected
        caller_error = str(exc)
        caller.participant.leave()
    except Exception as exc:  # the caller broke (e.g. a corrupt WAV half-way): the call fails
        caller_error = f"{type(exc).__name__}: {exc}"
        session.abort(f"caller script failed: {caller_error}")
        caller.participant.leave()
    try:
        done, _ = await asyncio.wait({run}, timeout=call_timeout_s)
        if not done:  # ended as failed, on the record, rather than left active forever
            session.abort(f"timeout: the call ran longer than {call_timeout_s:g} s")
        outcome = await run
    finally:
        room.close()
        if isinstance(clock, VirtualClock):
            await clock.aclose()
        if speech == "offline":
            await stt.aclose()
            await tts.aclose()
    state = outcome.state
    return LocalCallResult(
        call_id=call_id,
        outcome=state.outcome or ("hangup" if outcome.reason == "caller_hangup" else "error"),
        nodes=list(state.path),
        slots=dict(state.slots),
        variables=dict(state.variables),
        transcript=[
            {
                "speaker": u.role, "identity": u.identity,
                "text": u.planned_text if u.interrupted and u.planned_text else u.text,
                "start_ms": round(u.start_ms), "end_ms": round(u.end_ms),
                "interrupted": u.interrupted, "heard": u.text,
            }
            for _seq, u in memory.utterances
        ],
        turns=list(outcome.metrics.get("turns", [])),
        caller=caller.report,
        session=outcome,
        caller_error=caller_error,
        metrics=outcome.metrics,
        transferred_to=room.transferred_to,
        speech=[{"text": t.text, "ready_ms": round(t.ready_ms, 1)}
                for t in session.voice.speech_timings],
    )


def load_script(path: Path) -> CallerScript:
    return CallerScript.from_file(path)
