"""The call handler `callcenter dev` runs: the production handler with the dev broker.

`callsession.handler.call_handler` takes the escalation port; nothing else differs from
production.

The pages' live transcript comes from the call's record: the recorder is wrapped so each
finished utterance (caller, agent as heard, supervisor) is also handed to `on_utterance`,
and each call event (a console alert, ...) to `on_event`.
The same wrapper adds the phone edge's media figures (`media_stats`: RTP received, lost,
late, pacing) to the call's metrics as the record closes, in the same write, so a call
from the SIP endpoint keeps how good its line was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from callcenter.callsession import handler as production
from callcenter.callsession.recorder import CallInfo, CallRecorder
from callcenter.dispatch.job import JobHandler
from callcenter.escalation.port import CallEscalation
from callcenter.voice.events import Utterance

log = logging.getLogger(__name__)

OnUtterance = Callable[[str, Utterance], None]  # (call id, utterance)
MediaStats = Callable[[str], dict[str, Any] | None]  # call id -> figures, None: no phone edge
OnEvent = Callable[[str, str, dict[str, Any]], None]  # (call id, event type, data)


class TappedRecorder:
    """A `CallRecorder` that also reports each utterance as it is recorded."""

    def __init__(self, inner: CallRecorder, call_id: str, tap: OnUtterance,
                 media_stats: MediaStats | None = None, on_event: OnEvent | None = None
                 ) -> None:
        self.inner, self.call_id, self.tap = inner, call_id, tap
        self.media_stats, self.on_event = media_stats, on_event

    async def call_started(self, info: CallInfo, *, resumed: bool) -> None:
        await self.inner.call_started(info, resumed=resumed)

    async def utterance(self, seq: int, u: Utterance) -> None:
        self.tap(self.call_id, u)
        await self.inner.utterance(seq, u)

    async def event(self, seq: int, type_: str, offset_ms: int, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(self.call_id, type_, data)
        await self.inner.event(seq, type_, offset_ms, data)

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        await self.inner.escalation(queue, priority, reason, status, supervisor)

    async def call_ended(self, status: str, reason: str, metrics: dict[str, Any],
                         usage: dict[str, Any]) -> None:
        media = self.media_stats(self.call_id) if self.media_stats is not None else None
        if media is not None:
            metrics = {**metrics, "rtp": media}
        await self.inner.call_ended(status, reason, metrics, usage)


def dev_call_handler(escalations: CallEscalation, on_utterance: OnUtterance | None = None,
                     media_stats: MediaStats | None = None, on_event: OnEvent | None = None
                     ) -> JobHandler:
    """THE production handler, with the dev broker's queue, the live transcript and event
    taps and the phone edge's media figures."""
    if on_utterance is None and media_stats is None and on_event is None:
        return production.call_handler(escalations)

    def tap(call_id: str, u: Utterance) -> None:
        if on_utterance is not None:
            on_utterance(call_id, u)

    return production.call_handler(
        escalations,
        lambda inner, call_id: TappedRecorder(inner, call_id, tap, media_stats, on_event))
