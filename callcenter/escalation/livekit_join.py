"""A supervisor joins the caller's own LiveKit room: by console token, or by phone.

Self-hosted LiveKit has no MoveParticipant, so the supervisor always comes to the caller's
room. The console gets a token for that one room with a short life (a leaked link must not
open other calls, or this one for hours). By phone, LiveKit SIP dials the supervisor into
the room and answers only when they pick up; a refusal is a typed `DialResult` the caller's
side can route (re-offer, next supervisor, timeout route), never a string in a log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import aiohttp
from livekit import api

if TYPE_CHECKING:
    from callcenter.escalation.phone_desk import PhoneSupervisor

DialOutcome = Literal["answered", "busy", "no_answer", "declined", "unreachable"]
# SIP final responses the flow tells apart; anything else is "unreachable".
_BY_STATUS: dict[int, DialOutcome] = {486: "busy", 600: "busy", 480: "no_answer",
                                      408: "no_answer", 487: "no_answer", 603: "declined"}
SUPERVISOR_TOKEN_TTL = dt.timedelta(minutes=10)


def supervisor_token(api_key: str, api_secret: str, *, room: str, identity: str,
                     name: str = "", ttl: dt.timedelta = SUPERVISOR_TOKEN_TTL) -> str:
    """A token that joins `room` only, to talk and listen, valid for `ttl` (10 min)."""
    grants = api.VideoGrants(room_join=True, room=room, can_publish=True,
                             can_subscribe=True, can_publish_data=True)
    token = (api.AccessToken(api_key, api_secret).with_identity(identity)
             .with_name(name or identity).with_kind("standard")
             .with_attributes({"callcenter.role": "supervisor"})
             .with_grants(grants).with_ttl(ttl))
    return token.to_jwt()


def monitor_token(api_key: str, api_secret: str, *, room: str, identity: str,
                  name: str = "", ttl: dt.timedelta = SUPERVISOR_TOKEN_TTL) -> str:
    """A token to listen to `room` silently: subscribe only. It cannot publish audio (so
    there is no track the caller could ever subscribe to) nor data, and `hidden` keeps the
    observer out of everyone else's participant list."""
    grants = api.VideoGrants(room_join=True, room=room, can_publish=False,
                             can_subscribe=True, can_publish_data=False, hidden=True)
    token = (api.AccessToken(api_key, api_secret).with_identity(identity)
             .with_name(name or identity).with_kind("standard")
             .with_attributes({"callcenter.role": "monitor"})
             .with_grants(grants).with_ttl(ttl))
    return token.to_jwt()


@dataclass(frozen=True, slots=True)
class DialResult:
    """How dialing a supervisor's phone into the caller's room went."""

    outcome: DialOutcome
    phone: str
    sip_status: int | None = None
    message: str = ""
    participant_identity: str = ""

    @property
    def answered(self) -> bool:
        return self.outcome == "answered"


async def dial_supervisor(lkapi: api.LiveKitAPI, *, room: str, phone: str, trunk_id: str,
                          identity: str, name: str = "", ring_s: float = 30.0) -> DialResult:
    """Ring `phone` through outbound trunk `trunk_id`; returns once answered or refused."""
    request = api.CreateSIPParticipantRequest(
        sip_trunk_id=trunk_id, sip_call_to=phone, room_name=room,
        participant_identity=identity, participant_name=name or identity,
        participant_attributes={"callcenter.role": "supervisor"},
        wait_until_answered=True, play_dialtone=False,
    )
    request.ringing_timeout.FromTimedelta(dt.timedelta(seconds=ring_s))
    try:
        info = await lkapi.sip.create_sip_participant(request)
    except api.SipCallError as exc:
        code = exc.sip_status_code
        return DialResult(_BY_STATUS.get(code or 0, "unreachable"), phone, code,
                          f"{code} {exc.sip_status or exc.message}".strip())
    except api.ServerError as exc:  # the trunk or the server refused before any ringing
        return DialResult("unreachable", phone, None, f"{exc.code}: {exc.message}")
    except (aiohttp.ClientError, TimeoutError) as exc:  # LiveKit itself did not answer
        return DialResult("unreachable", phone, None, f"LiveKit unreachable ({exc!r})")
    return DialResult("answered", phone, participant_identity=info.participant_identity)


def livekit_dialer(lkapi: api.LiveKitAPI, trunk_id: str, *, ring_s: float = 25.0
                   ) -> Callable[[str, PhoneSupervisor], Awaitable[DialResult]]:
    """The phone desk's dialer on LiveKit SIP (`phone_desk.Dialer`). `ring_s` should be
    shorter than the queue's accept timeout, so a late answer still finds its offer."""

    async def dial(room: str, sup: PhoneSupervisor) -> DialResult:
        return await dial_supervisor(lkapi, room=room, phone=sup.phone, trunk_id=trunk_id,
                                     identity=f"{sup.supervisor_id}-phone",
                                     name=sup.name or sup.supervisor_id, ring_s=ring_s)

    return dial


def livekit_hang_up_leg(lkapi: api.LiveKitAPI) -> Callable[[str, str], Awaitable[None]]:
    """Remove a supervisor's phone leg from a room (`phone_desk.HangUpLeg`)."""

    async def hang_up(room: str, identity: str) -> None:
        try:
            await lkapi.room.remove_participant(
                api.RoomParticipantIdentity(room=room, identity=identity))
        except api.ServerError as exc:  # already gone: nothing to hang up
            if exc.code != "not_found":
                raise

    return hang_up
