"""The console's way into a caller's LiveKit room: a token for the supervisor who has it.

Production only (the dev console talks WebRTC to the dev server). A supervisor gets a
token for one call's room, and only while that call is offered to them or connected to
them in the escalation broker, or taken over by them from the AI (the call's timeline
says so: `taken_over` with no hand-back since): a token for anyone else's call, a call that is only
waiting, or one already handed back is refused, and the refusal says why. The token
joins that one room, to talk and listen (the grants of `livekit_join.supervisor_token`),
and lives a few minutes: a leaked token opens nothing for long. Monitoring (listen only,
hidden, no publishing: `livekit_join.monitor_token`) is open to any supervisor for any
call still live, as on the dev console.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlmodel import Session, col, select

from callcenter.escalation.broker import EscalationBroker
from callcenter.escalation.livekit_join import monitor_token, supervisor_token
from callcenter.escalation.tickets import TicketState
from callcenter.models import Call, CallEvent

CONSOLE_TOKEN_TTL = dt.timedelta(minutes=5)


class TokenRefused(Exception):
    """No token: `status` is the HTTP status the API answers with, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ConsoleToken:
    url: str  # the LiveKit server the browser connects to
    token: str
    room: str
    identity: str
    expires_at: float  # Unix time


def call_room(db: Session, call_id: str, *, live: bool = False) -> str:
    """The LiveKit room of a stored call (TokenRefused 404 when there is no such call;
    409 when `live` and the call has ended)."""
    call = db.get(Call, call_id)
    if call is None:
        raise TokenRefused(404, f"no call {call_id!r}")
    if live and call.ended_at is not None:
        raise TokenRefused(409, f"call {call_id} has ended")
    return call.room_name


def listen_token(*, room: str, supervisor: str, livekit_url: str, api_key: str,
                 api_secret: str, ttl: dt.timedelta = CONSOLE_TOKEN_TTL) -> ConsoleToken:
    """A monitor's token (subscribe only, hidden) into `room`."""
    token = monitor_token(api_key, api_secret, room=room, identity=f"monitor:{supervisor}",
                          ttl=ttl)
    return ConsoleToken(livekit_url, token, room, f"monitor:{supervisor}",
                        time.time() + ttl.total_seconds())


def taken_over_by(db: Session, call_id: str) -> str | None:
    """Who has the call after taking it over from the AI (None: nobody, or handed back).

    The flow's own timeline decides: its `taken_over` event, and the `escalation` event
    it writes when that take-over is handed back or ended.
    """
    last = db.exec(
        select(CallEvent)
        .where(CallEvent.call_id == call_id, col(CallEvent.type).in_(("taken_over",
                                                                      "escalation")))
        .order_by(col(CallEvent.seq).desc())
    ).first()
    if last is None or last.type != "taken_over":
        return None
    return str(last.data.get("supervisor") or "") or None


async def console_token(
    broker: EscalationBroker, *, call_id: str, room: str, supervisor: str,
    livekit_url: str, api_key: str, api_secret: str, ttl: dt.timedelta = CONSOLE_TOKEN_TTL,
    taken_over_by: str | None = None,
) -> ConsoleToken:
    """A token for `supervisor` into `room`, if the broker says the call is theirs (or
    they took it over from the AI: `taken_over_by`)."""
    if taken_over_by is not None and taken_over_by == supervisor:
        token = supervisor_token(api_key, api_secret, room=room, identity=supervisor, ttl=ttl)
        return ConsoleToken(livekit_url, token, room, supervisor,
                            time.time() + ttl.total_seconds())
    st = await broker.status(call_id)
    if st is None:
        raise TokenRefused(409, f"call {call_id} is not escalated: only a call offered to "
                                "you or connected to you can be joined from the console")
    mine = (st.state is TicketState.OFFERED and st.ticket.offered_to == supervisor) or (
        st.state is TicketState.CONNECTED and st.supervisor == supervisor)
    if not mine:
        raise TokenRefused(403, f"call {call_id} is {st.state.value}"
                                + (" with someone else" if st.supervisor or st.ticket.offered_to
                                   else "") + ": it is not offered to you or connected to you")
    token = supervisor_token(api_key, api_secret, room=room, identity=supervisor, ttl=ttl)
    return ConsoleToken(livekit_url, token, room, supervisor,
                        time.time() + ttl.total_seconds())
