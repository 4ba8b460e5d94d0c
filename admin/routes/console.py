"""The supervisor console: presence, the live queue, offers, and the connected call.

Thin over a `callcenter.console` backend: `callcenter dev`'s (the in-process desk, the dev
calls and control bus, WebRTC audio) or, on `callcenter api` with REDIS_URL, the
production one (the workers' Redis broker and call control, live calls from the database,
LiveKit audio with a room token). Live data goes out as server-sent events whose payloads
are rendered partials, so the first page load and every update share one source of
markup. The page names its audio transport (`data-transport`, see static/transport-*.js).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from admin.deps import require_permission
from admin.errors import problem
from admin.templating import render, templates
from callcenter.accounts import Permission
from callcenter.console import ConsoleBackend, ConsoleCallError, FeedLine
from callcenter.control.commands import Coach, HandBack, Hangup, JoinSupervisor
from callcenter.control.errors import ControlError
from callcenter.dev import DevCallError, DevServer
from callcenter.dev.desk import HEARTBEAT_S
from callcenter.escalation.presence import SupervisorStatus
from callcenter.models import User

router = APIRouter(prefix="/console")
ConsoleUser = Depends(require_permission(Permission.CONSOLE))
QUEUE_TICK_S = 1.0  # wait times on screen move by the second
NO_BACKEND = ("this server has no escalation backend: set REDIS_URL to the Redis the "
              "workers use (production), or run `callcenter dev`")


def console_backend(request: Request) -> ConsoleBackend | None:
    """The app's console backend, made on first use: the dev server's when `callcenter
    dev` attached one, else the production one when REDIS_URL is set, else None."""
    state = request.app.state
    dev = getattr(state, "dev", None)
    console: Any = getattr(state, "console", None)
    if isinstance(dev, DevServer):
        if console is None or getattr(console, "dev", None) is not dev:
            from callcenter.console.dev import DevConsole

            console = state.console = DevConsole(dev)
    elif console is None and state.settings.redis_url:
        from callcenter.console.production import ProductionConsole

        console = state.console = ProductionConsole.from_settings(state.settings,
                                                                  state.engine)
        console.start()
    return console  # type: ignore[no-any-return]


def backend(request: Request) -> ConsoleBackend:
    console = console_backend(request)
    if console is None:
        raise ConsoleCallError(NO_BACKEND)
    return console


def dev_server(request: Request) -> DevServer:
    """The dev composition `callcenter dev` attached (its WebRTC routes need it); a clear
    503 when there is none."""
    dev = getattr(request.app.state, "dev", None)
    if not isinstance(dev, DevServer):
        raise DevCallError("this server runs no dev calls: start it with `callcenter dev` "
                           "(with LiveKit the console joins calls by "
                           "/api/v1/calls/{id}/livekit-token)")
    return dev


def supervisor_id(user: User) -> str:
    # The identity in the broker and in the room: unique and readable in transcripts.
    return user.email


def partial(name: str, **context: Any) -> str:
    return templates.env.get_template(name).render(monitors_of=_monitors_of, **context)


def _monitors_of(call: Any) -> list[str]:
    """The silent observers of a dev call (join_as_monitor's identities)."""
    return [who for who in call.supervisors if who.startswith("monitor:")]


def render_feed_event(request: Request, ev: FeedLine, *, staff: bool = False) -> str:
    """A feed line; `staff` pages (the console) also see which supervisor spoke, the
    caller's (the browser phone) only that a supervisor did."""
    return partial("_console_feed_event.html", ev=ev, staff=staff)


def _sse(event: str, data: str) -> str:
    lines = data.splitlines() or [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def event_stream(request: Request, events: AsyncIterator[tuple[str, str]]) -> Response:
    """Server-sent events until the page goes away."""

    async def body() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for name, data in events:
            if await request.is_disconnected():
                return
            yield _sse(name, data)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class PresenceIn(BaseModel):
    status: SupervisorStatus


class JoinIn(BaseModel):
    sdp: str = Field(min_length=10, max_length=20000)


class CoachIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class HandBackIn(BaseModel):
    node: str | None = Field(default=None, max_length=200)


@router.get("")
async def console_page(request: Request, user: User = ConsoleUser) -> Response:
    try:
        console = console_backend(request)
    except ConsoleCallError as exc:  # e.g. REDIS_URL malformed: say so on the page
        console, why = None, str(exc)
    else:
        why = NO_BACKEND
    status = console.desk.status_of(supervisor_id(user)).value if console else ""
    return render(request, "console.html", {
        "section": "console", "backend": console is not None, "why": why,
        "presence": status, "transport": console.transport if console else "",
        "me": supervisor_id(user),
    })


@router.post("/presence")
async def set_presence(request: Request, body: PresenceIn, user: User = ConsoleUser
                       ) -> Response:
    try:
        console = backend(request)
    except ConsoleCallError as exc:
        return problem(503, "No console backend", str(exc))
    presence = await console.desk.set_status(supervisor_id(user), body.status)
    return JSONResponse({"status": presence.status.value})


@router.get("/events")
async def desk_events(request: Request, user: User = ConsoleUser) -> Response:
    """The desk's stream: the queue (each second when it changes), offers, live calls; it
    also keeps the supervisor's presence alive while the page is open."""
    try:
        console = backend(request)
    except ConsoleCallError as exc:
        return problem(503, "No console backend", str(exc))
    me = supervisor_id(user)

    async def events() -> AsyncIterator[tuple[str, str]]:
        last_queue, last_calls, beat = "", "", 0.0
        while True:
            now = time.monotonic()
            if now >= beat:
                await console.desk.heartbeat(me)
                beat = now + HEARTBEAT_S
            queue = partial("_console_queue.html", rows=await console.desk.queue())
            if queue != last_queue:
                last_queue = queue
                yield "queue", queue
            calls = partial("_console_calls.html", calls=await console.live_calls())
            if calls != last_calls:
                last_calls = calls
                yield "calls", calls
            offer = await console.desk.next_offer(me, timeout=QUEUE_TICK_S)
            if offer is not None:
                yield "offer", partial("_console_offer.html", offer=offer)

    return event_stream(request, events())


@router.post("/offers/{offer_id}/accept")
async def accept_offer(request: Request, offer_id: str, user: User = ConsoleUser
                       ) -> Response:
    try:
        console = backend(request)
        ticket = await console.desk.accept(offer_id, supervisor_id(user))
        if ticket is None:
            return problem(409, "Offer gone", "the offer expired or someone else took the call")
        return JSONResponse({"call_id": ticket.call_id,
                             "panel": await _call_panel(console, ticket.call_id)})
    except ConsoleCallError as exc:
        return problem(503, "No console backend", str(exc))


@router.post("/offers/{offer_id}/decline")
async def decline_offer(request: Request, offer_id: str, user: User = ConsoleUser
                        ) -> Response:
    try:
        ok = await backend(request).desk.decline(offer_id, supervisor_id(user))
    except ConsoleCallError as exc:
        return problem(503, "No console backend", str(exc))
    return JSONResponse({"ok": ok})


async def _call_panel(console: ConsoleBackend, call_id: str, *, monitor: bool = False
                      ) -> str:
    call = await console.call(call_id)
    return partial("_console_call.html", call=call, nodes=await console.flow_nodes(call_id),
                   monitor=monitor)


@router.post("/calls/{call_id}/listen")
async def listen_panel(request: Request, call_id: str, user: User = ConsoleUser) -> Response:
    """The monitor view of any live call (its audio joins by /monitor, or a LiveKit
    `?mode=monitor` token)."""
    try:
        panel = await _call_panel(backend(request), call_id, monitor=True)
    except ConsoleCallError as exc:
        return problem(404, "No such call", str(exc))
    return JSONResponse({"call_id": call_id, "panel": panel})


@router.post("/calls/{call_id}/monitor")
async def monitor_call(request: Request, call_id: str, body: JoinIn, user: User = ConsoleUser
                       ) -> Response:
    try:
        answer = await dev_server(request).join_as_monitor(
            call_id, supervisor_id(user), body.sdp)
    except (ControlError, DevCallError) as exc:
        return problem(409, "Cannot listen to the call", str(exc))
    return JSONResponse({"call_id": call_id, "sdp": answer})


@router.post("/calls/{call_id}/take")
async def take_call(request: Request, call_id: str, user: User = ConsoleUser) -> Response:
    """Barge in from monitor: a call waiting in a queue becomes this supervisor's (the
    broker's atomic claim), a call the AI has alone is taken over (the AI listens only);
    otherwise the call says why not (another supervisor has it, it ended)."""
    me = supervisor_id(user)
    try:
        console = backend(request)
        if await console.desk.take(call_id, me) is not None:
            await _leave(console, call_id, f"monitor:{me}")
            return JSONResponse({"call_id": call_id,
                                 "panel": await _call_panel(console, call_id)})
        joined = await console.command(call_id, JoinSupervisor(identity=me, issued_by=me))
        if joined.data.get("mode") == "take_over":
            # The AI had the call alone: it is now this supervisor's, the AI listens.
            await _leave(console, call_id, f"monitor:{me}")
            return JSONResponse({"call_id": call_id,
                                 "panel": await _call_panel(console, call_id)})
    except (ControlError, ConsoleCallError) as exc:
        return problem(409, "Cannot take the call", str(exc))
    return problem(409, "Cannot take the call", "another supervisor has this call")


@router.post("/calls/{call_id}/join")
async def join_call(request: Request, call_id: str, body: JoinIn, user: User = ConsoleUser
                    ) -> Response:
    try:
        answer = await dev_server(request).join_as_supervisor(
            call_id, supervisor_id(user), body.sdp)
    except DevCallError as exc:
        return problem(409, "Cannot join the call", str(exc))
    return JSONResponse({"call_id": call_id, "sdp": answer})


@router.get("/calls/{call_id}/events")
async def call_events(request: Request, call_id: str, user: User = ConsoleUser) -> Response:
    """Everything about the call as it happens: transcript of every speaker, the brief,
    the AI's suggestions."""
    try:
        console = backend(request)
        await console.call(call_id)
    except ConsoleCallError as exc:
        return problem(404, "No such call", str(exc))

    async def events() -> AsyncIterator[tuple[str, str]]:
        async for ev in console.follow(call_id):
            if ev is None:
                yield "ping", ""
            elif ev.kind == "brief":
                yield "brief", partial("_console_brief.html", brief=ev.data)
            elif ev.kind == "suggestion":
                yield "suggestion", partial("_console_suggestion.html", s=ev.data)
            else:
                yield ev.kind, render_feed_event(request, ev, staff=True)

    return event_stream(request, events())


async def _command(request: Request, call_id: str, command: Any) -> Response:
    try:
        result = await backend(request).command(call_id, command)
    except (ControlError, ConsoleCallError) as exc:
        return problem(409, "Command refused", str(exc))
    return JSONResponse({"ok": result.ok, **result.data})


@router.post("/calls/{call_id}/coach")
async def coach(request: Request, call_id: str, body: CoachIn, user: User = ConsoleUser
                ) -> Response:
    me = supervisor_id(user)
    return await _command(request, call_id, Coach(text=body.text, by=me, issued_by=me))


@router.post("/calls/{call_id}/handback")
async def hand_back(request: Request, call_id: str, body: HandBackIn,
                    user: User = ConsoleUser) -> Response:
    me = supervisor_id(user)
    response = await _command(request, call_id, HandBack(node=body.node or None, issued_by=me))
    if response.status_code == 200:
        await _leave(backend(request), call_id, me)
    return response


@router.post("/calls/{call_id}/end")
async def end_call(request: Request, call_id: str, user: User = ConsoleUser) -> Response:
    me = supervisor_id(user)
    response = await _command(request, call_id, Hangup(issued_by=me))
    if response.status_code == 200:
        await _leave(backend(request), call_id, me)
    return response


async def _leave(console: ConsoleBackend, call_id: str, me: str) -> None:
    # The supervisor's audio leaves the room once the AI has the call back (or it ended).
    await asyncio.shield(console.leave(call_id, me))
