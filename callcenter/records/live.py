"""Live calls as the production console reads them: from what workers store as they go.

A worker's `SqlRecorder` writes every finished utterance and every call event (the
hand-off brief, the AI's suggestions, keys) while the call runs, so the console on another
host can follow a call from the database alone: `read_feed` returns what was added since
the cursor the caller holds. The call's audio goes through LiveKit, not through here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlmodel import Session, col, select

from callcenter.models import Call, CallEvent, Utterance, utcnow

# A call no worker ended and no webhook closed is not shown as live forever.
LIVE_FOR = dt.timedelta(hours=12)
FEED_KINDS = {"handoff_brief": "brief", "suggestion": "suggestion", "alert": "alert"}


@dataclass(frozen=True, slots=True)
class LiveCallRow:
    """A live call in the console's words (the fields the dev call list shows too)."""

    call_id: str
    number: str  # dialed
    caller: str
    room: str
    via: str = "phone"
    ended: bool = False
    alerts: tuple[dict[str, Any], ...] = ()  # the call's console alerts, oldest first


@dataclass(frozen=True, slots=True)
class FeedItem:
    """`kind`: transcript | brief | suggestion | keys | ended (the console's feed kinds)."""

    kind: str
    data: dict[str, Any]


@dataclass
class FeedCursor:
    """Where a reader is in one call's stored lines and events."""

    utterance_seq: int = -1
    event_seq: int = -1
    ended: bool = False


def _row(call: Call) -> LiveCallRow:
    return LiveCallRow(call.id, call.dialed_number, call.caller_number, call.room_name,
                       ended=call.ended_at is not None)


def live_calls(db: Session, *, limit: int = 100) -> list[LiveCallRow]:
    """Calls that have not ended, newest first."""
    since = utcnow() - LIVE_FOR
    rows = db.exec(select(Call).where(col(Call.ended_at).is_(None),
                                      col(Call.started_at) >= since)
                   .order_by(col(Call.started_at).desc()).limit(limit)).all()
    return _with_alerts(db, [_row(c) for c in rows])


def _with_alerts(db: Session, rows: list[LiveCallRow]) -> list[LiveCallRow]:
    """The rows with their console alerts (escalation.alerts), in one query."""
    if not rows:
        return rows
    found: dict[str, list[dict[str, Any]]] = {}
    events = db.exec(select(CallEvent).where(
        col(CallEvent.call_id).in_([r.call_id for r in rows]), CallEvent.type == "alert",
    ).order_by(col(CallEvent.seq))).all()
    for ev in events:
        found.setdefault(ev.call_id, []).append(dict(ev.data or {}))
    return [replace(r, alerts=tuple(found.get(r.call_id, ()))) for r in rows]


def live_call(db: Session, call_id: str) -> LiveCallRow | None:
    call = db.get(Call, call_id)
    return None if call is None else _with_alerts(db, [_row(call)])[0]


def read_feed(db: Session, call_id: str, cursor: FeedCursor) -> list[FeedItem]:
    """What the call stored since `cursor` (moved past it): events, then lines, then the
    end once the call has ended."""
    items: list[FeedItem] = []
    events = db.exec(select(CallEvent).where(col(CallEvent.call_id) == call_id,
                                             col(CallEvent.seq) > cursor.event_seq)
                     .order_by(col(CallEvent.seq))).all()
    for ev in events:
        cursor.event_seq = max(cursor.event_seq, ev.seq)
        data = dict(ev.data or {})
        if ev.type == "caller_input" and data.get("dtmf"):  # keys, as the call page shows
            items.append(FeedItem("keys", {"digits": str(data.get("text", ""))}))
        elif ev.type in FEED_KINDS:
            items.append(FeedItem(FEED_KINDS[ev.type], data))
    lines = db.exec(select(Utterance).where(col(Utterance.call_id) == call_id,
                                            col(Utterance.seq) > cursor.utterance_seq)
                    .order_by(col(Utterance.seq))).all()
    for u in lines:
        cursor.utterance_seq = max(cursor.utterance_seq, u.seq)
        if u.text.strip():
            items.append(FeedItem("transcript", {
                "speaker": u.speaker_identity, "role": u.speaker_role,
                "text": u.heard_text or u.text, "interrupted": u.interrupted}))
    call = db.get(Call, call_id)
    if call is not None and call.ended_at is not None and not cursor.ended:
        cursor.ended = True
        items.append(FeedItem("ended", {"reason": call.end_reason}))
    return items
