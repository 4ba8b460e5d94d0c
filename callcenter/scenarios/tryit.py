"""Try-it conversations: a signed-in admin talks to a flow by text, one session per tab.

Each session is a `TextSession` (the one interpreter, as `callcenter chat`) owned by the
user who started it. Sessions live on one event loop in a thread of their own, so a turn's
CPU work (intent embeddings) never stalls the web server's loop, and a session outlives the
request that started it. The count is bounded (per user and in all), idle sessions expire,
and a session answers only its owner: anyone else is told it does not exist.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import Effects
from callcenter.callsession.text_channel import ScriptedEscalations
from callcenter.callsession.text_session import TextSession, TextTurn
from callcenter.flow.schema import Flow
from callcenter.speech import LLM

T = TypeVar("T")
# Timeline entries worth showing the admin beside the agent's words (the rest is noise).
NOTABLE = {"intent", "no_match", "no_input", "slot_set", "webhook", "webhook_result",
           "tool_call", "transferred", "transfer_unsupported", "transfer_failed",
           "provider_failure", "escalation_failed"}


class TryItError(Exception):
    """A try-it request that cannot be served; `status` is the HTTP status it maps to."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class TryItReply:
    """The agent's answer to one turn, and where the call is now."""

    session_id: str
    said: list[str]
    notes: list[str]
    lines: list[tuple[str, str]]  # said and notes, in order: ("agent" | "note", text)
    node: str | None
    waiting_for: str | None
    slots: dict[str, Any]
    path: list[str]
    ended: bool
    outcome: str | None
    reason: str | None


@dataclass
class _Live:
    owner: int
    flow: str
    version: int
    session: TextSession
    http: httpx.AsyncClient
    used: float
    turns: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _note(kind: str, item: Any) -> str | None:
    """A note line for the admin, or None for what is noise to them."""
    if kind == "note":
        # "listening for ..." tells a terminal user how to type keys, which the page says
        # once and shows as "waiting for".
        return None if item.startswith("listening") else str(item)
    type_, data = item
    if type_ == "intent":
        return f"intent: {data.get('intent')} ({float(data.get('confidence') or 0):.2f})"
    if type_ in NOTABLE:
        brief = ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, dict | list))
        return f"{type_}: {brief}"[:300]
    return None


def _lines(turn: TextTurn) -> list[tuple[str, str]]:
    """The turn as ("agent" | "note", text) in the order it happened."""
    out = []
    for kind, item in turn.lines:
        text = item if kind == "agent" else _note(kind, item)
        if text is not None:
            out.append(("agent" if kind == "agent" else "note", text))
    return out


class TryItSessions:
    """Every open try-it conversation of one web app."""

    def __init__(self, *, intents: IntentService, llm: LLM | None = None,
                 max_sessions: int = 50, per_user: int = 5, idle_s: float = 900.0,
                 max_turns: int = 200, turn_timeout_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.intents, self.llm = intents, llm
        self.max_sessions, self.per_user, self.idle_s = max_sessions, per_user, idle_s
        self.max_turns, self.turn_timeout_s, self.clock = max_turns, turn_timeout_s, clock
        self._live: dict[str, _Live] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: concurrent.futures.Future[None] | None = None
        self._started = threading.Lock()

    # -- the sessions' own loop ---------------------------------------------------------
    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._started:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="try-it", daemon=True).start()
                self._loop = loop
                self._sweeper = asyncio.run_coroutine_threadsafe(self._sweep_forever(), loop)
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self._submit(coro))

    # -- what routes call (from any event loop) -------------------------------------------
    async def start(self, owner: int, flow: Flow, *, version: int, escalation: str,
                    transport: httpx.AsyncBaseTransport,
                    at: dt.datetime | None = None) -> TryItReply:
        """A new conversation with `flow`: the greeting and what comes before a question."""
        ScriptedEscalations(escalation)  # refuses an unknown outcome before anything starts
        return await self._run(self._start(owner, flow, version, escalation, transport, at))

    async def say(self, owner: int, session_id: str, text: str) -> TryItReply:
        """The caller's line (chat's rules: `123#` keys, "" silence, `/quit` hangs up)."""
        return await self._run(self._say(owner, session_id, text))

    async def close(self, owner: int, session_id: str) -> None:
        await self._run(self._close(owner, session_id))

    def count(self) -> int:
        return len(self._live)

    async def aclose(self) -> None:
        """Hang up every conversation and stop the sessions' loop (the app is stopping)."""
        loop = self._loop
        if loop is None:
            return
        await self._run(self._drop_all())
        loop.call_soon_threadsafe(loop.stop)
        self._loop = None

    async def _drop_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for session_id in list(self._live):
            await self._drop(session_id)

    async def _sweep_forever(self) -> None:
        """Expire idle sessions even when nobody starts a new one (a closed tab's)."""
        while True:
            await asyncio.sleep(min(60.0, self.idle_s))
            await self._sweep()

    def version_of(self, owner: int, session_id: str, flow_name: str) -> int:
        """The flow version a session of `owner` talks to; 404 if not theirs or not that
        flow's (a session id under another flow's URL is no session)."""
        live = self._owned(owner, session_id)
        if live.flow != flow_name:
            raise TryItError(404, f"no such try-it conversation with {flow_name}")
        return live.version

    # -- on the sessions' loop --------------------------------------------------------------
    async def _start(self, owner: int, flow: Flow, version: int, escalation: str,
                     transport: httpx.AsyncBaseTransport, at: dt.datetime | None) -> TryItReply:
        await self._sweep()
        mine = sorted((s for s in self._live.items() if s[1].owner == owner),
                      key=lambda item: item[1].used)
        while len(mine) >= self.per_user:  # a tab closed without Restart leaves one behind
            await self._drop(mine.pop(0)[0])
        if len(self._live) >= self.max_sessions:
            raise TryItError(429, f"{len(self._live)} try-it sessions are open (the limit is "
                             f"{self.max_sessions}); try again when some have ended")
        http = httpx.AsyncClient(transport=transport)
        effects = Effects(http=http, llm=self.llm, intents=self.intents,
                          escalations=ScriptedEscalations(escalation))
        session_id = secrets.token_urlsafe(16)
        session = TextSession(flow, effects, call_id=f"try-{session_id[:8]}",
                              caller_id="try-it", now=at)
        live = _Live(owner, flow.name, version, session, http, self.clock())
        self._live[session_id] = live
        async with live.lock:
            return await self._turn(session_id, live, session.start())

    async def _say(self, owner: int, session_id: str, text: str) -> TryItReply:
        await self._sweep()  # an expired conversation is gone, even between two sweeps
        live = self._owned(owner, session_id)
        async with live.lock:
            live.used = self.clock()
            if live.turns >= self.max_turns:
                await self._drop(session_id)
                raise TryItError(409, f"this conversation reached {self.max_turns} turns; "
                                 "press Restart for a new one")
            live.turns += 1
            return await self._turn(session_id, live, live.session.send(text))

    async def _turn(self, session_id: str, live: _Live,
                    step: Coroutine[Any, Any, TextTurn]) -> TryItReply:
        try:
            async with asyncio.timeout(self.turn_timeout_s):
                turn = await step
        except TimeoutError:
            await self._drop(session_id)
            raise TryItError(504, f"the flow did not answer within {self.turn_timeout_s:g} s "
                             "(a slow webhook or LLM?); the conversation was ended") from None
        except Exception as exc:  # a bug in the run: the session is over, say why
            await self._drop(session_id)
            raise TryItError(500, f"the conversation failed: {type(exc).__name__}: {exc}") \
                from None
        state = live.session.state
        outcome, reason = live.session.outcome
        lines = _lines(turn)
        reply = TryItReply(session_id, turn.said, [t for k, t in lines if k == "note"], lines,
                           state.node, state.waiting_for, dict(state.slots), list(state.path),
                           turn.ended, outcome, reason)
        if turn.ended:
            await self._drop(session_id)  # nothing more to say: free the slot now
        return reply

    async def _close(self, owner: int, session_id: str) -> None:
        self._owned(owner, session_id)
        await self._drop(session_id)

    def _owned(self, owner: int, session_id: str) -> _Live:
        live = self._live.get(session_id)
        if live is None or live.owner != owner:
            raise TryItError(404, "no such try-it conversation (it ended, expired or is not "
                             "yours): press Restart")
        return live

    async def _sweep(self) -> None:
        now = self.clock()
        for session_id in [k for k, v in self._live.items() if now - v.used > self.idle_s]:
            await self._drop(session_id)

    async def _drop(self, session_id: str) -> None:
        live = self._live.pop(session_id, None)
        if live is None:
            return
        try:
            await asyncio.wait_for(live.session.aclose(), 5)
        except (TimeoutError, RuntimeError):
            pass
        finally:
            await live.http.aclose()
