"""Where a call's record goes: utterances, timeline events, status, metrics.

The session calls the recorder from the event loop; `SqlRecorder` moves every database
write to a thread so a slow disk never delays the caller's audio.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.models import (
    Call,
    CallEvent,
    CallStatus,
    Escalation,
    EscalationStatus,
    Utterance,
    utcnow,
)
from callcenter.rooms.clock import Clock, RealClock
from callcenter.voice.events import Utterance as VoiceUtterance


@dataclass(slots=True)
class CallInfo:
    call_id: str
    room_name: str
    caller_number: str = ""
    dialed_number: str = ""
    flow_version_id: int | None = None
    worker_id: str = ""


class CallRecorder(Protocol):
    async def call_started(self, info: CallInfo, *, resumed: bool) -> None: ...
    async def utterance(self, seq: int, u: VoiceUtterance) -> None: ...
    async def event(self, seq: int, type_: str, offset_ms: int, data: dict[str, Any]) -> None: ...
    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        """The call's escalation moved to `status` (an EscalationStatus value)."""
        ...

    async def call_ended(
        self, status: str, reason: str, metrics: dict[str, Any], usage: dict[str, Any]
    ) -> None: ...


@dataclass
class MemoryRecorder:
    """Keeps the record in memory (for `callcenter chat` and tests)."""

    info: CallInfo | None = None
    utterances: list[tuple[int, VoiceUtterance]] = field(default_factory=list)
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    escalations: list[tuple[str, int, str, str, str | None]] = field(default_factory=list)
    ended: tuple[str, str] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    async def call_started(self, info: CallInfo, *, resumed: bool) -> None:
        self.info = info

    async def utterance(self, seq: int, u: VoiceUtterance) -> None:
        self.utterances.append((seq, u))

    async def event(self, seq: int, type_: str, offset_ms: int, data: dict[str, Any]) -> None:
        self.events.append((seq, type_, data))

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        self.escalations.append((queue, priority, reason, status, supervisor))

    async def call_ended(
        self, status: str, reason: str, metrics: dict[str, Any], usage: dict[str, Any]
    ) -> None:
        self.ended = (status, reason)
        self.metrics = metrics


class SqlRecorder:
    """Writes the call record to the database; idempotent per (call, seq) for resumed calls."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        # Through the clock, so a virtual clock does not run ahead while we write.
        self.clock = clock or RealClock()
        self.call_id = ""
        # One writer at a time keeps sequence numbers ordered on SQLite.
        self._lock = asyncio.Lock()

    async def _run(self, fn: Any, *args: Any) -> None:
        async with self._lock:
            await self.clock.run_blocking(fn, *args)

    async def call_started(self, info: CallInfo, *, resumed: bool) -> None:
        self.call_id = info.call_id
        await self._run(self._upsert_call, info)

    def _upsert_call(self, info: CallInfo) -> None:
        with Session(self.engine) as s:
            call = s.get(Call, info.call_id)
            if call is None:
                call = Call(id=info.call_id, room_name=info.room_name)
            call.caller_number = info.caller_number or call.caller_number
            call.dialed_number = info.dialed_number or call.dialed_number
            call.flow_version_id = info.flow_version_id or call.flow_version_id
            call.worker_id = info.worker_id
            if call.status in (CallStatus.RINGING, ""):
                call.status = CallStatus.ACTIVE
            call.answered_at = call.answered_at or utcnow()
            s.add(call)
            s.commit()

    async def utterance(self, seq: int, u: VoiceUtterance) -> None:
        await self._run(self._add_utterance, seq, u)

    def _add_utterance(self, seq: int, u: VoiceUtterance) -> None:
        with Session(self.engine) as s:
            exists = s.exec(
                select(Utterance.id).where(Utterance.call_id == self.call_id, Utterance.seq == seq)
            ).first()
            if exists is not None:
                return
            s.add(
                Utterance(
                    call_id=self.call_id,
                    seq=seq,
                    speaker_role=u.role,
                    speaker_identity=u.identity,
                    # For interrupted agent speech the voice session reports the heard part
                    # as `text` and the intention as `planned_text`.
                    text=u.planned_text if u.interrupted and u.planned_text else u.text,
                    start_ms=int(u.start_ms),
                    end_ms=int(u.end_ms),
                    interrupted=u.interrupted,
                    heard_text=u.text if u.interrupted else None,
                )
            )
            s.commit()

    async def event(self, seq: int, type_: str, offset_ms: int, data: dict[str, Any]) -> None:
        await self._run(self._add_event, seq, type_, offset_ms, data)

    def _add_event(self, seq: int, type_: str, offset_ms: int, data: dict[str, Any]) -> None:
        with Session(self.engine) as s:
            exists = s.exec(
                select(CallEvent.id).where(CallEvent.call_id == self.call_id, CallEvent.seq == seq)
            ).first()
            if exists is None:
                s.add(CallEvent(call_id=self.call_id, seq=seq, type=type_, offset_ms=offset_ms,
                                data=_jsonable(data)))
                s.commit()

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        await self._run(self._update_escalation, queue, priority, reason, status, supervisor)

    def _update_escalation(self, queue: str, priority: int, reason: str, status: str,
                           supervisor: str | None) -> None:
        """One row per escalation, moved through its states with the time of each move."""
        with Session(self.engine) as s:
            now = utcnow()
            row = s.exec(
                select(Escalation)
                .where(Escalation.call_id == self.call_id, Escalation.ended_at.is_(None))  # type: ignore[union-attr]
                .order_by(Escalation.id.desc())  # type: ignore[union-attr]
            ).first()
            if row is None:
                row = Escalation(call_id=self.call_id, queue=queue, priority=priority,
                                 reason=reason, requested_at=now)
            row.status = status
            if supervisor:
                row.supervisor = supervisor
            if status == EscalationStatus.ACTIVE and row.answered_at is None:
                row.answered_at = now
            if status == EscalationStatus.HANDED_BACK:
                row.returned_at = now
            if status not in (EscalationStatus.WAITING, EscalationStatus.RINGING,
                              EscalationStatus.ACTIVE):
                row.ended_at = now
            s.add(row)
            call = s.get(Call, self.call_id)
            if call is not None and call.status not in (CallStatus.ENDED, CallStatus.FAILED):
                call.status = CallStatus.ESCALATED
                s.add(call)
            s.commit()

    async def call_ended(
        self, status: str, reason: str, metrics: dict[str, Any], usage: dict[str, Any]
    ) -> None:
        await self._run(self._end_call, status, reason, metrics, usage)

    def _end_call(
        self, status: str, reason: str, metrics: dict[str, Any], usage: dict[str, Any]
    ) -> None:
        with Session(self.engine) as s:
            call = s.get(Call, self.call_id)
            if call is None:
                return
            call.status = status
            call.end_reason = reason[:100]
            call.ended_at = call.ended_at or utcnow()
            call.metrics = {**call.metrics, **_jsonable(metrics)}
            call.usage = {**call.usage, **_jsonable(usage)}
            s.add(call)
            s.commit()


def _jsonable(data: Any) -> Any:
    """Drop what JSON cannot hold (datetimes become ISO strings)."""
    if isinstance(data, dict):
        return {str(k): _jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_jsonable(v) for v in data]
    if isinstance(data, datetime):
        return data.isoformat()
    if isinstance(data, str | int | float | bool) or data is None:
        return data
    return str(data)
