"""`POST /api/v1/calls/{call_id}/livekit-token`: the console's way into a call's room.

Thin over `callcenter.escalation.console_token`: a signed-in supervisor (console
permission) gets a short-lived token for the LiveKit room of a call offered to them,
connected to them or taken over by them from the AI; anyone else's call is refused with
the reason. The token is in the response body only (never logged; `Cache-Control:
no-store`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from admin.deps import DbSession, require_permission
from admin.errors import ApiProblem
from admin.routes.console import console_backend, supervisor_id
from callcenter.accounts import Permission
from callcenter.console import ConsoleCallError
from callcenter.escalation.broker import EscalationBroker
from callcenter.escalation.console_token import (
    TokenRefused,
    call_room,
    console_token,
    listen_token,
    taken_over_by,
)
from callcenter.models import User

router = APIRouter(prefix="/api/v1", tags=["api"])
ConsoleUser = Depends(require_permission(Permission.CONSOLE))


class LiveKitToken(BaseModel):
    url: str
    token: str
    room: str
    identity: str
    expires_at: float


def escalation_broker(request: Request) -> EscalationBroker:
    """The broker the console reads: one set on the app, else the console backend's (the
    dev server's, or the workers' Redis broker under REDIS_KEY_PREFIX)."""
    broker: Any = getattr(request.app.state, "escalation_broker", None)
    if broker is None:
        try:
            console = console_backend(request)
        except ConsoleCallError as exc:
            raise ApiProblem(503, str(exc)) from None
        broker = console.desk.broker if console is not None else None
    if broker is None:
        raise ApiProblem(503, "no escalation broker: set REDIS_URL (the one the workers use)")
    result: EscalationBroker = broker
    return result


def _ws(url: str) -> str:
    # The browser SDK takes the websocket form; settings may hold the https one.
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(http):
            return ws + url[len(http):]
    return url


@router.post("/calls/{call_id}/livekit-token")
async def livekit_token(request: Request, response: Response, call_id: str, db: DbSession,
                        mode: Literal["talk", "monitor"] = "talk", user: User = ConsoleUser
                        ) -> LiveKitToken:
    """A token (minutes) to join the call's room from the console: `talk` only for a call
    offered or connected to you; `monitor` (listen only, hidden) for any live call."""
    settings = request.app.state.settings
    secret = settings.livekit_api_secret
    if not (settings.livekit_url and settings.livekit_api_key and secret):
        raise ApiProblem(503, "LiveKit is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY "
                              "and LIVEKIT_API_SECRET (`callcenter dev` uses WebRTC instead)")
    lk = {"livekit_url": _ws(settings.livekit_url), "api_key": settings.livekit_api_key,
          "api_secret": secret.get_secret_value()}
    try:
        if mode == "monitor":
            room = call_room(db, call_id, live=True)
            got = listen_token(room=room, supervisor=supervisor_id(user), **lk)
        else:
            room = call_room(db, call_id)
            got = await console_token(escalation_broker(request), call_id=call_id, room=room,
                                      supervisor=supervisor_id(user),
                                      taken_over_by=taken_over_by(db, call_id), **lk)
    except TokenRefused as exc:
        raise ApiProblem(exc.status, str(exc)) from None
    response.headers["Cache-Control"] = "no-store"
    return LiveKitToken(url=got.url, token=got.token, room=got.room, identity=got.identity,
                        expires_at=got.expires_at)
