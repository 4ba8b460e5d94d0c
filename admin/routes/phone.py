"""The browser phone (dev): dial a number over WebRTC, press keys, read the live transcript.

Thin: the call itself is `callcenter.dev.DevServer` (attached as `app.state.dev` by
`callcenter dev`); these routes parse, check the role and render. Without a dev server
(production) the page says how to call instead (a real phone, through LiveKit SIP).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from admin.deps import require_permission
from admin.errors import problem
from admin.routes.console import dev_server, event_stream, render_feed_event
from admin.templating import render
from callcenter.accounts import Permission
from callcenter.dev import DevCallError
from callcenter.models import User

router = APIRouter(prefix="/phone")
PhoneUser = Depends(require_permission(Permission.CONSOLE))


class DialIn(BaseModel):
    number: str = Field(min_length=1, max_length=40)
    sdp: str = Field(min_length=10, max_length=20000)


class Keys(BaseModel):
    digits: str = Field(pattern=r"^[0-9*#A-D]{1,32}$")


@router.get("")
def phone_page(request: Request, user: User = PhoneUser) -> Response:
    dev = getattr(request.app.state, "dev", None)
    numbers = dev.status.numbers if dev is not None and dev.status is not None else []
    return render(request, "phone.html", {"section": "phone", "dev": dev is not None,
                                          "numbers": numbers})


@router.post("/calls")
async def place_call(request: Request, body: DialIn, user: User = PhoneUser) -> Response:
    dev = dev_server(request)
    try:
        answer, call_id = await dev.place_browser_call(body.number, body.sdp,
                                                       caller_id=f"browser:{user.email}")
    except (DevCallError, ValueError) as exc:
        return problem(400, "Cannot place the call", str(exc))
    return JSONResponse({"call_id": call_id, "sdp": answer})


@router.post("/calls/{call_id}/dtmf")
async def press_keys(request: Request, call_id: str, body: Keys,
                     user: User = PhoneUser) -> Response:
    try:
        dev_server(request).send_dtmf(call_id, body.digits)
    except DevCallError as exc:
        return problem(409, "Keys not sent", str(exc))
    return JSONResponse({"ok": True})


@router.post("/calls/{call_id}/hangup")
async def hang_up(request: Request, call_id: str, user: User = PhoneUser) -> Response:
    try:
        await dev_server(request).hang_up(call_id)
    except DevCallError as exc:
        return problem(404, "No such call", str(exc))
    return JSONResponse({"ok": True})


@router.get("/calls/{call_id}/events")
async def call_events(request: Request, call_id: str, user: User = PhoneUser) -> Response:
    """Server-sent events: transcript lines (rendered partials) and the end of the call."""
    try:
        call = dev_server(request).call(call_id)
    except DevCallError as exc:
        return problem(404, "No such call", str(exc))

    async def events() -> AsyncIterator[tuple[str, str]]:
        async for ev in call.feed.follow():
            if ev is None:
                yield "ping", ""
            elif ev.kind in ("transcript", "keys", "ended"):  # the caller never sees the brief
                yield ev.kind, render_feed_event(request, ev)

    return event_stream(request, events())
