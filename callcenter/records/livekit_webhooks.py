"""Record LiveKit webhook events onto call records, idempotently.

LiveKit retries a webhook until it gets a 2xx, so the same event may arrive several times
(even concurrently). Each event is stored once as a `CallEvent` keyed by its webhook id;
room and participant events keep the `Call` row right even when no worker saw the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from livekit.protocol import models as lk
from livekit.protocol.webhook import WebhookEvent
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.dispatch.job import call_id_for
from callcenter.models import Call, CallEvent, CallStatus

CALL_ROOM_PREFIX = "call-"
_FINAL = {CallStatus.ENDED, CallStatus.FAILED}
# ParticipantInfo.Kind values; the SDK has no Python enum names for them on this message.
_KIND_NAMES = {0: "standard", 1: "ingress", 2: "egress", 3: "sip", 4: "agent"}


@dataclass(frozen=True, slots=True)
class Recorded:
    """What happened to one webhook delivery."""

    call_id: str | None
    status: str  # recorded | duplicate | ignored
    room_finished: bool = False


def record_event(
    engine: Engine, event: WebhookEvent, *, room_prefix: str = CALL_ROOM_PREFIX
) -> Recorded:
    """Apply one verified webhook event; safe to call again with the same event."""
    room_name = event.room.name
    if not room_name.startswith(room_prefix):
        return Recorded(None, "ignored")
    for attempt in range(2):
        try:
            with Session(engine, expire_on_commit=False) as session:
                result = _apply(session, event)
                session.commit()
                return result
        except sa.exc.IntegrityError:
            # A concurrent retry of the same event (or another event) took our seq or
            # created the call first; the second pass sees its row and dedupes.
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def _apply(session: Session, event: WebhookEvent) -> Recorded:
    room = event.room
    call = session.exec(select(Call).where(Call.room_name == room.name)).first()
    if call is None:
        call_id, _meta = call_id_for(room.name, room.sid, "")
        call = Call(id=call_id, room_name=room.name, status=CallStatus.RINGING)
        if room.creation_time:
            call.started_at = datetime.fromtimestamp(room.creation_time, UTC)
        session.add(call)
        session.flush()
    events = session.exec(select(CallEvent).where(CallEvent.call_id == call.id)).all()
    if event.id and any(e.data.get("webhook_id") == event.id for e in events):
        return Recorded(call.id, "duplicate", event.event == "room_finished")
    at = datetime.fromtimestamp(event.created_at, UTC) if event.created_at else datetime.now(UTC)
    data: dict[str, Any] = {"webhook_id": event.id, "room_sid": room.sid}
    if event.HasField("participant"):
        p = event.participant
        data.update(identity=p.identity, kind=_KIND_NAMES.get(p.kind, str(p.kind)))
        _apply_participant(call, event.event, p, at)
    if event.event == "room_finished":
        _finish(call, at, event)
    session.add(
        CallEvent(
            call_id=call.id,
            seq=max((e.seq for e in events), default=0) + 1,
            type=f"livekit.{event.event}",
            at=at,
            offset_ms=max(0, int((at - _aware(call.started_at)).total_seconds() * 1000)),
            data=data,
        )
    )
    session.add(call)
    return Recorded(call.id, "recorded", event.event == "room_finished")


def _apply_participant(call: Call, kind: str, p: lk.ParticipantInfo, at: datetime) -> None:
    if p.kind != lk.ParticipantInfo.Kind.SIP:
        return
    attrs = dict(p.attributes)
    if kind == "participant_joined":
        call.caller_number = call.caller_number or attrs.get("sip.phoneNumber", "")
        call.dialed_number = call.dialed_number or attrs.get("sip.trunkPhoneNumber", "")
        if call.status == CallStatus.RINGING:
            call.status = CallStatus.ACTIVE
            call.answered_at = call.answered_at or at
    elif kind == "participant_left" and call.status not in _FINAL and not call.end_reason:
        call.end_reason = "caller_hangup"


def _finish(call: Call, at: datetime, event: WebhookEvent) -> None:
    if call.ended_at is None:
        call.ended_at = at
    if call.status not in _FINAL:
        call.status = CallStatus.ENDED
    if not call.end_reason:
        reason = lk.RoomEndReason.Name(event.room_end_reason) if event.room_end_reason else ""
        call.end_reason = reason.lower() or "room_finished"


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
