"""`DevServer`: the embedded default composed in one process (no web framework in here).

SQLite in the data directory (migrated to head), the example flows published and mapped to
numbers, a dev admin and supervisor, the in-process escalation broker with its routing
task, the local dispatcher running the call handler with a supervisor queue, the embedded
post-call worker, offline speech, and the phone edges: the browser (WebRTC) and, when it
can bind, the dev SIP endpoint. Every call is a `LocalRoom`, so a supervisor can join it.

The web app (admin/) calls the methods below; `callcenter dev` serves both in one event
loop, so the in-process buses are shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from callcenter.config import Settings, get_settings
from callcenter.control.bus import ControlBus
from callcenter.control.commands import (
    Command,
    CommandResult,
    JoinSupervisor,
    Monitor,
    TakeOver,
)
from callcenter.db import engine_for
from callcenter.dev.calls import DevCall
from callcenter.dev.desk import SupervisorDesk
from callcenter.dev.handler import dev_call_handler
from callcenter.dev.seed import SeededLogin, migrate_to_head, seed_flows, seed_logins
from callcenter.dev.sip_bridge import SipBridge
from callcenter.dispatch.admission import Admission
from callcenter.dispatch.job import JobHandler, JobInfo
from callcenter.dispatch.local import LocalDispatcher, NoCapacity
from callcenter.dispatch.runner import CallRunner, JobOutcome
from callcenter.escalation import InProcessEscalationBroker, QueueEscalation, run_routing
from callcenter.flowstore import NumberMapping, normalize_number
from callcenter.rooms.base import ROLE_ATTRIBUTE, ParticipantKind
from callcenter.rooms.clock import RealClock
from callcenter.rooms.local import LocalRoom
from callcenter.rooms.sip.endpoint import SipEndpoint
from callcenter.rooms.sip.room import SipRoom
from callcenter.rooms.webrtc import BrowserPeer
from callcenter.voice.events import Utterance

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0  # a browser that answered but never connected media is dropped


class DevCallError(Exception):
    """A dev call request that cannot be done; the message says why, for the page."""


@dataclass
class DevOptions:
    sip_host: str = "127.0.0.1"
    sip_port: int | None = 5060  # None: no SIP endpoint
    warm_speech: bool = True  # load the offline models at start, not on the first call
    postcall: bool = True
    # Calls at once before a new one is refused ("no capacity"); the worker's limit.
    max_calls: int = 20
    # Tests replace the call handler (e.g. fake speech); None: the real one with the queue.
    handler: JobHandler | None = None


@dataclass
class DevStatus:
    """What `callcenter dev` prints at start."""

    numbers: list[NumberMapping]
    logins: list[SeededLogin]
    sip: str | None
    database: str
    notes: list[str] = field(default_factory=list)


class DevServer:
    """Everything `callcenter dev` runs besides the web app."""

    def __init__(self, settings: Settings | None = None, options: DevOptions | None = None
                 ) -> None:
        self.settings = settings or get_settings()
        self.options = options or DevOptions()
        self.engine = engine_for(self.settings.effective_database_url)
        self.clock = RealClock()  # one media ticker for every dev call
        self.broker = InProcessEscalationBroker()
        self.desk = SupervisorDesk(self.broker)
        self.escalations = QueueEscalation(self.broker, update_s=1.0)
        self.dispatcher = LocalDispatcher()
        self.calls: dict[str, DevCall] = {}
        self.sip: SipEndpoint | None = None  # when it could bind its port
        self._stop_routing = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._postcall_started = False
        self.status: DevStatus | None = None  # set by start()

    @property
    def control(self) -> ControlBus:
        return self.dispatcher.control

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> DevStatus:
        url = self.settings.effective_database_url
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(migrate_to_head, url)
        numbers = await asyncio.to_thread(seed_flows, self.engine)
        logins = await asyncio.to_thread(seed_logins, self.engine)
        notes: list[str] = []
        self._spawn(run_routing(self.broker, interval_s=0.1, stop=self._stop_routing))
        handler = self.options.handler or dev_call_handler(
            self.escalations, self._on_utterance, self._media_stats, self._on_call_event)
        # One process and no other worker to hand a call to: a busy CPU (model loading,
        # a test suite next door) must not refuse a call, so only the slots count.
        admission = Admission(max_calls=self.options.max_calls,
                              cpu_threshold=float(os.cpu_count() or 1))
        self.dispatcher.add_runner(CallRunner(
            handler=handler, store=self.dispatcher.store, worker_id="dev",
            on_done=self._on_done, admission=admission,
        ))
        if self.options.postcall and not self.settings.redis_url:
            from callcenter.postcall.inprocess import ensure_started

            await asyncio.to_thread(ensure_started, self.settings)
            self._postcall_started = True
        if self.options.warm_speech and self.options.handler is None:
            from callcenter.callsession.handler import process_speech

            await asyncio.to_thread(process_speech)
        sip = await self._start_sip(notes)
        self.status = DevStatus(numbers, logins, sip, url, notes)
        return self.status

    async def _start_sip(self, notes: list[str]) -> str | None:
        if self.options.sip_port is None:
            return None
        endpoint = SipEndpoint(self.options.sip_host, self.options.sip_port,
                               on_call=self._on_sip_call)
        try:
            await endpoint.start()
        except OSError as exc:
            notes.append(f"SIP endpoint not started: udp {self.options.sip_host}:"
                         f"{self.options.sip_port}: {exc.strerror or exc}")
            return None
        self.sip = endpoint
        return f"{self.options.sip_host}:{endpoint.port}"

    async def aclose(self) -> None:
        """Hang up every call, stop the edges, dispatcher, routing and post-call worker."""
        for call in list(self.calls.values()):
            await self._end(call, "dev server stopping")
        if self.sip is not None:
            await self.sip.aclose()
        await self.dispatcher.aclose()
        self._stop_routing.set()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.broker.aclose()
        if self._postcall_started:
            from callcenter.postcall.inprocess import stop_embedded

            await asyncio.to_thread(stop_embedded)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_done(self, job: JobInfo, outcome: JobOutcome, _detail: str) -> None:
        # The handler returned: the call is over whatever the edges still think.
        call = self.calls.get(job.call_id)
        if call is not None and outcome is not JobOutcome.LOST:
            call.room.close("call ended")

    def _media_stats(self, call_id: str) -> dict[str, Any] | None:
        call = self.calls.get(call_id)
        return None if call is None or call.sip is None else call.sip.media.report()

    def _on_utterance(self, call_id: str, u: Utterance) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.add_utterance(u)

    def _on_call_event(self, call_id: str, type_: str, data: dict[str, Any]) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.add_event(type_, data)

    async def _end(self, call: DevCall, reason: str) -> None:
        peers = [call.caller, *call.supervisors.values()]
        for peer in peers:
            if peer is not None:
                await peer.aclose()
        call.room.close(reason)

    # ------------------------------------------------------------------ calls

    def _new_call(self, number: str, via: str) -> DevCall:
        call_id = f"dev-{uuid.uuid4().hex[:12]}"
        call = DevCall(call_id, number, LocalRoom(call_id, clock=self.clock), via)
        self.calls[call_id] = call
        return call

    def live_calls(self) -> list[DevCall]:
        return [c for c in self.calls.values() if not c.ended]

    def call(self, call_id: str) -> DevCall:
        call = self.calls.get(call_id)
        if call is None:
            raise DevCallError(f"no call {call_id!r} on this dev server")
        return call

    async def place_browser_call(self, number: str, offer_sdp: str, *,
                                 caller_id: str = "browser") -> tuple[str, str]:
        """Dial `number` from a browser: (answer SDP, call id). The call starts once the
        browser's media is connected, so the caller hears the greeting from its first word."""
        try:
            dialed = normalize_number(number)
        except ValueError as exc:
            raise DevCallError(str(exc)) from None
        call = self._new_call(dialed, "browser")
        peer = BrowserPeer(
            call.room, f"caller-{call.call_id[-6:]}", ParticipantKind.CALLER,
            attributes={"sip.phoneNumber": caller_id, "sip.trunkPhoneNumber": dialed,
                        "sip.callStatus": "active"},
        )
        call.caller = peer
        try:
            answer = await peer.answer(offer_sdp)
        except Exception:
            await self._end(call, "signaling failed")
            raise
        self._spawn(self._dispatch_when_connected(call, peer))
        return answer, call.call_id

    async def _dispatch_when_connected(self, call: DevCall, peer: BrowserPeer) -> None:
        if not await peer.wait_connected(CONNECT_TIMEOUT_S):
            log.warning("browser call %s never connected its media; dropped", call.call_id)
            await self._end(call, "media never connected")
            return
        await self._dispatch(call)

    async def hang_up(self, call_id: str) -> None:
        """The caller hangs up from the browser phone."""
        call = self.call(call_id)
        if call.caller is not None:
            await call.caller.aclose()

    def send_dtmf(self, call_id: str, digits: str) -> None:
        call = self.call(call_id)
        p = call.caller.participant if call.caller is not None else None
        if p is None or not p.present:
            raise DevCallError(f"call {call_id} has no caller on the line")
        p.send_dtmf(digits)
        call.feed.add("keys", {"digits": digits})

    def _on_sip_call(self, sip_room: SipRoom) -> None:
        dialed = sip_room.caller.attributes.get("sip.trunkPhoneNumber", "")
        call = self._new_call(dialed, "sip")
        call.sip = sip_room
        SipBridge(sip_room, call.room)
        self._spawn(self._dispatch(call))

    async def _dispatch(self, call: DevCall) -> None:
        try:
            await self.dispatcher.dispatch(call.room, call_id=call.call_id)
        except NoCapacity as exc:
            log.warning("call %s refused: %s", call.call_id, exc)
            await self._end(call, "no capacity")

    # ------------------------------------------------------------------ supervisors

    async def join_as_supervisor(self, call_id: str, supervisor_id: str, offer_sdp: str
                                 ) -> str:
        """Bring the supervisor who has the call into its room; returns the answer SDP."""
        call = self.call(call_id)
        if call.ended:
            raise DevCallError(f"call {call_id} has ended")
        status = await self.broker.status(call_id)
        taken = status is not None and status.supervisor == supervisor_id and (
            status.state == "connected")
        if not taken and call.taken_over_by != supervisor_id:
            raise DevCallError(f"call {call_id} is not connected to you: accept its offer first")
        old = call.supervisors.pop(supervisor_id, None)
        if old is not None:
            await old.aclose()
        peer = BrowserPeer(call.room, supervisor_id, ParticipantKind.SUPERVISOR,
                           on_closed=lambda p: _forget(call, p))
        call.supervisors[supervisor_id] = peer
        return await peer.answer(offer_sdp)

    async def join_as_monitor(self, call_id: str, supervisor_id: str, offer_sdp: str) -> str:
        """A silent observer on any live call: hears the room, is left out of everyone
        else's mix (the caller never hears them). The call records who listened."""
        call = self.call(call_id)
        if call.ended:
            raise DevCallError(f"call {call_id} has ended")
        await self.command(call_id, Monitor(identity=supervisor_id, issued_by=supervisor_id))
        identity = f"monitor:{supervisor_id}"
        old = call.supervisors.pop(identity, None)
        if old is not None:
            await old.aclose()
        peer = BrowserPeer(call.room, identity, ParticipantKind.OTHER,
                           attributes={ROLE_ATTRIBUTE: "monitor"},
                           on_closed=lambda p: _forget(call, p))
        answer = await peer.answer(offer_sdp)
        if peer.participant is not None:
            peer.participant.muted = True
        call.supervisors[identity] = peer
        return answer

    async def leave_supervisor(self, call_id: str, supervisor_id: str) -> None:
        call = self.call(call_id)
        peer = call.supervisors.pop(supervisor_id, None)
        if call.taken_over_by == supervisor_id:
            call.taken_over_by = None
        if peer is not None:
            await peer.aclose()

    async def command(self, call_id: str, command: Command) -> CommandResult:
        """A control command to the live call (coach, hand back, hang up, ...)."""
        result = await self.dispatcher.control.send(call_id, command)
        if result.data.get("mode") == "take_over" and isinstance(command, JoinSupervisor
                                                                 | TakeOver):
            # The AI had the call alone: this supervisor may now join its room.
            self.call(call_id).taken_over_by = command.identity
        return result

    async def flow_nodes(self, call_id: str) -> list[str]:
        """The nodes of the flow answering this call (the hand-back choices)."""
        from callcenter.db import session_scope
        from callcenter.flowstore import FlowStore

        number = self.call(call_id).number

        def read() -> list[str]:
            with session_scope(self.engine) as s:
                published = FlowStore(s).flow_for_number(number)
                return [] if published is None else list(published.flow.nodes)

        return await asyncio.to_thread(read)


def _forget(call: DevCall, peer: BrowserPeer) -> None:
    if call.supervisors.get(peer.identity) is peer:
        del call.supervisors[peer.identity]
