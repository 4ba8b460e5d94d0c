"""THE call handler: what a worker runs for each call it takes (LiveKit or local dispatch).

Everything a call needs beyond dispatch (slots, leases, checkpoints) lives here: find the
caller in the room, pick the flow published for the dialed number, run a `CallSession` with
the worker's checkpoint store (a crashed worker's call resumes on another worker), then
enqueue post-call processing. Unknown numbers are answered (never left ringing in silence)
with a short notice and recorded with the reason, so an admin sees what to map. Speech
models and the outage apology load once per process and are shared by all its calls.

`handle_call` is a `JobHandler`; `callcenter worker` binds it as an object, not a string.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from callcenter.audio.frame import AudioFrame
from callcenter.callsession.apology import render_apology
from callcenter.callsession.providers import Speech, build_speech
from callcenter.callsession.recorder import CallInfo, CallRecorder, SqlRecorder
from callcenter.callsession.session import CallSession, CallSetup
from callcenter.callsession.static_prompts import admit_flow, warm_published
from callcenter.config import Settings, get_settings
from callcenter.db import get_engine, session_scope
from callcenter.dispatch.job import JobContext, JobHandler
from callcenter.escalation.broker import EscalationBroker
from callcenter.escalation.port import CallEscalation, NoSupervisors, QueueEscalation
from callcenter.flowstore import FlowStore, PublishedFlow
from callcenter.logs import mask_shapes
from callcenter.models import Call, CallStatus, utcnow
from callcenter.rooms.base import Participant, ParticipantKind, Room
from callcenter.voice.runtime import realtime_process

log = logging.getLogger(__name__)

NOT_IN_SERVICE = "Sorry, this number is not in service. Please check the number and try again."
CALLER_WAIT_S = 20.0


@lru_cache(maxsize=1)
def process_speech() -> Speech:
    """Models load once per worker process and are shared by all its calls."""
    speech = build_speech(get_settings())
    speech.warm_up()
    # Published flows' fixed prompts are synthesized (in the background) so that a call
    # reaching one starts it at once.
    warm_published(speech.tts)
    # Models are long-lived: keep them out of the cyclic GC's full scans, and let the VAD
    # thread have the GIL without waiting out 5 ms switch intervals (see voice.runtime).
    realtime_process()
    return speech


_intents_warmed: set[int] = set()


async def _warm_intents(speech: Speech, published: PublishedFlow) -> None:
    """Embed the flow's intent phrases on its first call in this process (~7 ms a phrase,
    off the loop), so no menu's first spoken answer waits for them mid-call."""
    version = published.version.id
    if version is None or version in _intents_warmed:
        return
    _intents_warmed.add(version)
    await asyncio.to_thread(speech.intents.warm_flow, published.flow)


def call_escalation(settings: Settings, broker: EscalationBroker | None = None
                    ) -> CallEscalation:
    """The escalation port for calls: the given broker (the embedded default passes its
    in-process one), the Redis broker when REDIS_URL is set, else `NoSupervisors` (nobody
    could ever take the call, so the flow's no-supervisor route follows at once)."""
    if broker is None and settings.redis_url:
        # Imported here: a worker without Redis never loads the Redis client.
        from callcenter.escalation.redis_broker import RedisEscalationBroker

        broker = RedisEscalationBroker.from_url(settings.redis_url,
                                                prefix=settings.redis_key_prefix)
    return NoSupervisors() if broker is None else QueueEscalation(broker)


@lru_cache(maxsize=1)
def process_escalation() -> CallEscalation:
    """One broker (one Redis pool) per worker process, shared by all its calls."""
    return call_escalation(get_settings())


_apology: list[AudioFrame | None] = []


async def process_apology() -> AudioFrame | None:
    """The pre-rendered outage apology, made once per process."""
    if not _apology:
        _apology.append(await render_apology())
    return _apology[0]


async def wait_for_caller(room: Room, timeout_s: float = CALLER_WAIT_S) -> Participant | None:
    """The caller (a SIP participant) once it is in the room."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        for p in room.participants():
            if p.kind == ParticipantKind.CALLER:
                return p
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(0.05)


def _published_for(number: str) -> PublishedFlow | None:
    with session_scope() as s:
        return FlowStore(s).flow_for_number(number)


def _record_failed(info: CallInfo, reason: str) -> None:
    """End the call's row as failed with `reason`, unless it already ended (the session's
    own end record, or the LiveKit webhook's, says more); creates the row if need be."""
    with session_scope() as s:
        call = s.get(Call, info.call_id) or Call(id=info.call_id, room_name=info.room_name)
        call.caller_number = call.caller_number or info.caller_number
        call.dialed_number = call.dialed_number or info.dialed_number
        if call.status not in (CallStatus.ENDED, CallStatus.FAILED):
            call.status, call.end_reason = CallStatus.FAILED, reason[:100]
            call.ended_at = call.ended_at or utcnow()
        s.add(call)


async def _fail(info: CallInfo, reason: str) -> None:
    """A call that cannot go on: its row ends as failed and post-call gets what was
    recorded. Never raises: the caller's exception (or cancellation) is the one to see."""
    try:
        await asyncio.to_thread(_record_failed, info, reason)
    except Exception:
        log.exception("call %s: could not record its failure (%s)", info.call_id, reason)
    await _postcall(info.call_id)


async def _postcall(call_id: str) -> None:
    try:
        await asyncio.to_thread(_enqueue_postcall, call_id)
    except Exception as exc:  # the LiveKit webhook's room_finished enqueues it again
        log.error("call %s: post-call not queued: %s", call_id, mask_shapes(str(exc)))


RecorderTap = Callable[[CallRecorder, str], CallRecorder]


async def handle_call(ctx: JobContext) -> None:
    """Run one call to its end (the production `JobHandler`)."""
    await run_call(ctx, process_escalation())


def call_handler(escalations: CallEscalation, tap: RecorderTap | None = None) -> JobHandler:
    """The production handler with a given escalation port (and optionally a recorder
    wrapper, e.g. the dev server's live transcript feed): same steps, nothing else differs."""

    async def handle(ctx: JobContext) -> None:
        await run_call(ctx, escalations, tap)

    return handle


async def run_call(ctx: JobContext, escalations: CallEscalation,
                   tap: RecorderTap | None = None) -> None:
    """One call: the caller, the flow for the dialed number, the session, post-call.

    Whatever fails on the way (the database, the models, the session, the server ending
    the job), the call's row ends as failed with the reason and post-call is queued; only
    a call that goes on elsewhere (cancelled for a hand-over) is left to its next worker.
    """
    info = CallInfo(call_id=ctx.call_id, room_name=ctx.job.room_name, worker_id=ctx.worker_id)
    try:
        await _run_call(ctx, info, escalations, tap)
    except asyncio.CancelledError:
        if ctx.terminated:  # the server ended the job: nobody resumes this call
            await _fail(info, "terminated: the server ended the call's job")
        raise
    except Exception as exc:
        await _fail(info, mask_shapes(f"error: {type(exc).__name__}: {exc}"))
        raise


async def _run_call(ctx: JobContext, info: CallInfo, escalations: CallEscalation,
                    tap: RecorderTap | None) -> None:
    caller = await wait_for_caller(ctx.room)
    attrs: dict[str, Any] = dict(caller.attributes) if caller else {}
    info.caller_number = str(attrs.get("sip.phoneNumber", ""))
    info.dialed_number = str(attrs.get("sip.trunkPhoneNumber", ""))
    if caller is None:
        await _fail(info, "no caller joined the room")
        return
    published = await asyncio.to_thread(_published_for, info.dialed_number)
    speech = await asyncio.to_thread(process_speech)  # first call in a process loads models
    if published is None:
        log.warning("no published flow for dialed number %r (call %s): map it with "
                    "`callcenter flows publish FILE --number %s`",
                    info.dialed_number, info.call_id, info.dialed_number or "+1...")
        await _not_in_service(ctx.room, speech)
        await _fail(info, "unknown_number")
        return
    info.flow_version_id = published.version.id
    admit_flow(speech.tts, published.flow)
    await _warm_intents(speech, published)
    resume = ctx.resume.data if ctx.resume is not None else None
    recorder: CallRecorder = SqlRecorder(get_engine())
    if tap is not None:
        recorder = tap(recorder, info.call_id)
    session = CallSession(CallSetup(
        room=ctx.room, info=info, flow=published.flow, stt=speech.stt, tts=speech.tts,
        llm=speech.llm, intents=speech.intents, recorder=recorder,
        batched_vad=True, checkpoint=ctx.save_checkpoint, resume=resume,
        on_turn_latency=ctx.record_turn_latency, apology=await process_apology(),
        serve_commands=ctx.serve_commands, escalations=escalations,
        watch_phrases=get_settings().watch_phrase_list,
    ))
    # A failure raises to run_call, which queues post-call (the session has recorded it);
    # a cancellation means the call is resumed elsewhere: no post-call processing yet.
    await session.run()
    await _postcall(info.call_id)


def _enqueue_postcall(call_id: str) -> None:
    from callcenter.postcall import enqueue_process_call

    enqueue_process_call(call_id)


async def _not_in_service(room: Room, speech: Speech) -> None:
    from callcenter.voice import VoiceSession

    voice = VoiceSession(room, stt=speech.stt, tts=speech.tts)
    await voice.start()
    try:
        await asyncio.wait_for(voice.say(NOT_IN_SERVICE, interruptible=False).wait(), 15)
        await room.audio_output.wait_for_playout()
    finally:
        await voice.aclose()
        await room.hangup()
