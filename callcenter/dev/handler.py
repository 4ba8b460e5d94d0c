"""The call handler `callcenter dev` runs: THE handler's steps, with a supervisor queue.

`callsession.handler.handle_call` builds its `CallSetup` with no escalation port (no
supervisor can ever answer), and it takes no options. Until it grows one, this is the same
sequence with `escalations` set, built from that module's own pieces (caller lookup, the
published flow for the dialed number, shared speech, the outage apology, post-call), so
nothing but the escalation port differs from production.

The pages' live transcript comes from the call's record: the recorder is wrapped so each
finished utterance (caller, agent as heard, supervisor) is also handed to `on_utterance`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from callcenter.callsession import handler as production
from callcenter.callsession.recorder import CallInfo, CallRecorder, SqlRecorder
from callcenter.callsession.session import CallSession, CallSetup
from callcenter.db import get_engine
from callcenter.dispatch.job import JobContext, JobHandler
from callcenter.escalation.port import CallEscalation
from callcenter.voice.events import Utterance

log = logging.getLogger(__name__)

OnUtterance = Callable[[str, Utterance], None]  # (call id, utterance)


class TappedRecorder:
    """A `CallRecorder` that also reports each utterance as it is recorded."""

    def __init__(self, inner: CallRecorder, call_id: str, tap: OnUtterance) -> None:
        self.inner, self.call_id, self.tap = inner, call_id, tap

    async def call_started(self, info: CallInfo, *, resumed: bool) -> None:
        await self.inner.call_started(info, resumed=resumed)

    async def utterance(self, seq: int, u: Utterance) -> None:
        self.tap(self.call_id, u)
        await self.inner.utterance(seq, u)

    async def event(self, seq: int, type_: str, offset_ms: int, data: dict[str, Any]) -> None:
        await self.inner.event(seq, type_, offset_ms, data)

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        await self.inner.escalation(queue, priority, reason, status, supervisor)

    async def call_ended(self, status: str, reason: str, metrics: dict[str, Any],
                         usage: dict[str, Any]) -> None:
        await self.inner.call_ended(status, reason, metrics, usage)


def dev_call_handler(escalations: CallEscalation, on_utterance: OnUtterance | None = None
                     ) -> JobHandler:
    """A `JobHandler` whose calls can be escalated through `escalations`."""

    async def handle(ctx: JobContext) -> None:
        caller = await production.wait_for_caller(ctx.room)
        attrs = dict(caller.attributes) if caller else {}
        info = CallInfo(
            call_id=ctx.call_id, room_name=ctx.job.room_name,
            caller_number=str(attrs.get("sip.phoneNumber", "")),
            dialed_number=str(attrs.get("sip.trunkPhoneNumber", "")),
            worker_id=ctx.worker_id,
        )
        if caller is None:
            await asyncio.to_thread(production._record_unanswerable, info,
                                    "no caller joined the room")
            return
        published = await asyncio.to_thread(production._published_for, info.dialed_number)
        speech = await asyncio.to_thread(production.process_speech)
        if published is None:
            log.warning("no published flow for dialed number %r (call %s)",
                        info.dialed_number, info.call_id)
            await production._not_in_service(ctx.room, speech)
            await asyncio.to_thread(production._record_unanswerable, info, "unknown_number")
            return
        info.flow_version_id = published.version.id
        recorder: CallRecorder = SqlRecorder(get_engine())
        if on_utterance is not None:
            recorder = TappedRecorder(recorder, info.call_id, on_utterance)
        session = CallSession(CallSetup(
            room=ctx.room, info=info, flow=published.flow, stt=speech.stt, tts=speech.tts,
            llm=speech.llm, intents=speech.intents, recorder=recorder,
            batched_vad=True, checkpoint=ctx.save_checkpoint,
            resume=ctx.resume.data if ctx.resume is not None else None,
            on_turn_latency=ctx.record_turn_latency, apology=await production.process_apology(),
            serve_commands=ctx.serve_commands, escalations=escalations,
        ))
        try:
            await session.run()
        except asyncio.CancelledError:
            raise  # resumed elsewhere: the call is not over
        finally:
            if not _cancelling():
                await asyncio.to_thread(production._enqueue_postcall, info.call_id)

    return handle


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
