"""The console on `callcenter api`: the workers' Redis broker and call control, the database.

Everything a supervisor sees comes from what the workers share: the queue, presence and
offers from the Redis escalation broker (the same keys and prefix the workers use), live
calls and their transcript, brief and suggestions from what workers store as the call
goes (`records.live`), commands over the Redis control bus to whichever worker holds the
call. Audio is LiveKit: the page asks `/api/v1/calls/{id}/livekit-token` for a room-scoped
token. The API process also runs a routing loop, so offers ring with no terminal
supervisor running (several loops on one Redis are safe: every claim is atomic), and, with
PHONE_SUPERVISORS set, the phone desk that rings supervisors by phone (phone_service.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.config import Settings
from callcenter.console.backend import ConsoleCall, ConsoleCallError, FeedLine
from callcenter.control.bus import ControlBus
from callcenter.control.commands import Command, CommandResult
from callcenter.dev.desk import SupervisorDesk
from callcenter.escalation.broker import EscalationBroker
from callcenter.escalation.loop import run_routing
from callcenter.escalation.phone_service import PhoneDeskService, room_of_calls_table
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.tickets import TicketState
from callcenter.flowstore import FlowStore
from callcenter.records.live import FeedCursor, LiveCallRow, live_call, live_calls, read_feed

POLL_S = 0.5  # how often a followed call's new lines are read from the database
IDLE_PINGS_S = 15.0
T = TypeVar("T")


class SharedDesk(SupervisorDesk):
    """The desk when several API processes serve one supervisor (`api --workers N`): the
    presence switch and the page's stream may land on different processes, so the status
    a heartbeat keeps is the broker's, not one process's memory (a page whose heartbeats
    lapsed comes back away, as routing already saw it)."""

    async def set_status(self, supervisor_id: str, status: SupervisorStatus | str
                         ) -> Presence:
        self._status[supervisor_id] = SupervisorStatus(status)
        return await super().heartbeat(supervisor_id)

    async def heartbeat(self, supervisor_id: str) -> Presence:
        known = {p.supervisor_id: p.status for p in await self.broker.supervisors()}
        self._status[supervisor_id] = known.get(supervisor_id, SupervisorStatus.AWAY)
        return await super().heartbeat(supervisor_id)


@dataclass(frozen=True, slots=True)
class ProductionCall:
    """A stored live call and who has it now (the broker's connected supervisor)."""

    row: LiveCallRow
    supervisors: tuple[str, ...] = field(default=())

    @property
    def call_id(self) -> str:
        return self.row.call_id

    @property
    def number(self) -> str:
        return self.row.number

    @property
    def via(self) -> str:
        return self.row.via

    @property
    def alerts(self) -> tuple[dict[str, Any], ...]:
        return self.row.alerts


class ProductionConsole:
    transport = "livekit"

    def __init__(self, broker: EscalationBroker, bus: ControlBus, engine: Engine, *,
                 routing: bool = True, poll_s: float = POLL_S) -> None:
        self.broker = broker
        self.bus = bus
        self.engine = engine
        self.desk: SupervisorDesk = SharedDesk(broker)
        self._poll_s = poll_s
        self._stop = asyncio.Event()
        self._routing: asyncio.Task[None] | None = None
        self._want_routing = routing
        self.phones: PhoneDeskService | None = None  # PHONE_SUPERVISORS: rung by phone

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> ProductionConsole:
        """On the Redis in REDIS_URL, under REDIS_KEY_PREFIX (the workers' keys)."""
        if not settings.redis_url:
            raise ConsoleCallError("no escalation backend: set REDIS_URL (the one the "
                                   "workers use), or run `callcenter dev`")
        from callcenter.control.redis_bus import RedisControlBus
        from callcenter.escalation.redis_broker import RedisEscalationBroker

        prefix = settings.redis_key_prefix
        console = cls(RedisEscalationBroker.from_url(settings.redis_url, prefix=prefix),
                      RedisControlBus.from_url(settings.redis_url, prefix=prefix), engine)
        console.phones = PhoneDeskService.from_settings(
            settings, console.broker, room_of_calls_table(engine), console.bus)
        return console

    def start(self) -> None:
        """Start the routing loop on the running event loop (once)."""
        if self._want_routing and self._routing is None:
            self._routing = asyncio.ensure_future(
                run_routing(self.broker, interval_s=0.5, stop=self._stop))
        if self.phones is not None:
            self.phones.start()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            with Session(self.engine) as db:
                return fn(db, *args)
        return await asyncio.to_thread(run)

    async def _with_supervisors(self, rows: Sequence[LiveCallRow]) -> list[ProductionCall]:
        # Status reads asked for at the same moment share one script call (redis_status).
        states = await asyncio.gather(*(self.broker.status(r.call_id) for r in rows))
        return [ProductionCall(r, (st.supervisor,) if st is not None and st.supervisor
                               and st.state is TicketState.CONNECTED else ())
                for r, st in zip(rows, states, strict=True)]

    async def live_calls(self) -> Sequence[ConsoleCall]:
        rows = await self._db(live_calls)
        return await self._with_supervisors(rows)

    async def call(self, call_id: str) -> ConsoleCall:
        row = await self._db(live_call, call_id)
        if row is None:
            raise ConsoleCallError(f"no call {call_id!r}")
        return (await self._with_supervisors([row]))[0]

    async def follow(self, call_id: str) -> AsyncIterator[FeedLine | None]:
        await self.call(call_id)  # ConsoleCallError before the stream starts
        cursor = FeedCursor()
        quiet = 0.0
        while not cursor.ended:
            items = await self._db(read_feed, call_id, cursor)
            for item in items:
                yield item
            quiet = 0.0 if items else quiet + self._poll_s
            if quiet >= IDLE_PINGS_S:
                quiet = 0.0
                yield None
            if not cursor.ended:
                await asyncio.sleep(self._poll_s)

    async def flow_nodes(self, call_id: str) -> list[str]:
        call = await self.call(call_id)

        def read(db: Session) -> list[str]:
            published = FlowStore(db).flow_for_number(call.number)
            return [] if published is None else list(published.flow.nodes)

        return await self._db(read)

    async def command(self, call_id: str, command: Command) -> CommandResult:
        return await self.bus.send(call_id, command)

    async def leave(self, call_id: str, identity: str) -> None:
        return None  # the page disconnects from LiveKit itself

    async def aclose(self) -> None:
        self._stop.set()
        if self.phones is not None:
            await self.phones.aclose()  # signs the phones off while the broker is still open
        if self._routing is not None:
            self._routing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._routing
        await self.bus.aclose()
        await self.broker.aclose()
