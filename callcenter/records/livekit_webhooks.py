"""Record LiveKit webhook events onto call records, idempotently.

LiveKit retries a webhook until it gets a 2xx, so the same event may arrive several times
(even concurrently). Each event is stored once as a `CallEvent` keyed by its webhook id (or,
for an event without one, a hash of its content); room and participant events keep the
`Call` row right even when no worker saw the end.

Events for one room arrive together (joined, track published, left, finished within a few
ms): the call row is locked while an event takes the next timeline sequence number, and a
writer that still collides (the call row created concurrently, SQLite) tries again.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
_ATTEMPTS = 12
# Event times outside these bounds are a broken or hostile sender, not a call.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=1)


class BadWebhookEvent(ValueError):
    """A verified event whose content cannot be a real call event (e.g. its time)."""


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
    at = _when(event.created_at, "created_at") or datetime.now(UTC)
    started = _when(event.room.creation_time, "room.creation_time")
    key = event_key(event)
    for attempt in range(_ATTEMPTS):
        try:
            with Session(engine, expire_on_commit=False) as session:
                result = _apply(session, event, key, at, started)
                session.commit()
                return result
        except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
            # Another event of this call took our seq or created the call first (or SQLite
            # was locked by it); the next pass sees its rows, and dedupes a retried event.
            if attempt == _ATTEMPTS - 1 or not _retryable(exc):
                raise
            time.sleep(random.uniform(0.0, 0.01 * (attempt + 1)))
    raise AssertionError("unreachable")


def event_key(event: WebhookEvent) -> str:
    """The event's id, or for an event without one a hash of its content (same event, same key)."""
    if event.id:
        return event.id
    digest = hashlib.sha256(event.SerializeToString(deterministic=True)).hexdigest()
    return f"sha256:{digest[:32]}"


def _when(seconds: int, field: str) -> datetime | None:
    if not seconds:
        return None
    latest = datetime.now(UTC) + _FUTURE_SLACK
    try:
        at = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        at = None
    if at is None or not _EARLIEST <= at <= latest:
        raise BadWebhookEvent(f"{field} {seconds} is not a time between 2000 and tomorrow "
                              "(seconds since 1970)")
    return at


def _retryable(exc: sa.exc.DBAPIError) -> bool:
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    # SQLite: another writer holds the database; PostgreSQL: a lock or serialization clash.
    text = str(exc.orig).lower()
    return "locked" in text or "deadlock" in text or "serializ" in text


def _apply(
    session: Session, event: WebhookEvent, key: str, at: datetime, started: datetime | None
) -> Recorded:
    room = event.room
    # FOR UPDATE: events of one call take their sequence numbers one at a time (PostgreSQL;
    # SQLite serializes writers anyway).
    call = session.exec(
        select(Call).where(Call.room_name == room.name).with_for_update()).first()
    if call is None:
        call_id, _meta = call_id_for(room.name, room.sid, "")
        call = Call(id=call_id, room_name=room.name, status=CallStatus.RINGING)
        if started is not None:
            call.started_at = started
        session.add(call)
        session.flush()
    events = session.exec(select(CallEvent).where(CallEvent.call_id == call.id)).all()
    if any(e.data.get("webhook_id") == key for e in events):
        return Recorded(call.id, "duplicate", event.event == "room_finished")
    data: dict[str, Any] = {"webhook_id": key, "room_sid": room.sid}
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
