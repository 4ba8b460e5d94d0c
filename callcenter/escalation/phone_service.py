"""The phone desk in production: built from settings, run next to a routing loop.

Policy: a phone supervisor is a supervisor like any console one. While the desk runs, each
person in PHONE_SUPERVISORS is present in the broker as "available" (capacity 1, their
skills), so routing offers them calls by the same rule as everyone: the highest-priority,
longest-waiting call to the longest-idle free supervisor with the skills. The desk answers
their offers by ringing them into the caller's room. We chose this over "phones after N
seconds with no web supervisor" because it needs no second routing rule: the broker's
atomic claim, capacity, re-offer on decline and the no-supervisors route (nobody staffed
left) all hold for phones unchanged, and a phone that does not pick up rests (away) for
`rest_s`, so a console supervisor who is free gets the re-offer next. A deployment that
wants consoles first keeps phones for the skills or hours nobody covers at a desk.

`callcenter api` runs it (console/production.py). Of several API processes on one Redis,
only the holder of a lease runs its desk (phone_leader.py): a phone that did not pick up
rests in the desk's memory, and a second desk would heartbeat it back to available.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from livekit import api
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.config import Settings
from callcenter.control.bus import ControlBus
from callcenter.control.commands import PhoneRing
from callcenter.escalation.broker import EscalationBroker
from callcenter.escalation.livekit_join import livekit_dialer, livekit_hang_up_leg
from callcenter.escalation.phone_config import parse_phone_supervisors
from callcenter.escalation.phone_desk import OnRing, PhoneDesk, Ring, RoomOf
from callcenter.escalation.phone_leader import DeskLease

log = logging.getLogger(__name__)


def room_of_calls_table(engine: Engine) -> RoomOf:
    """The caller's room from the calls table; None once the call has ended (or is unknown)."""
    from callcenter.models import Call, CallStatus

    _OVER = (CallStatus.ENDED, CallStatus.FAILED)

    def read(call_id: str) -> str | None:
        with Session(engine) as db:
            call = db.get(Call, call_id)
            if call is None or call.ended_at is not None or call.status in _OVER:
                return None
            return call.room_name

    async def room_of(call_id: str) -> str | None:
        return await asyncio.to_thread(read, call_id)

    return room_of


def report_to_call(bus: ControlBus) -> OnRing:
    """Each ring onto the call's timeline (a `control_phone_ring` event by the worker)."""

    async def report(ring: Ring) -> None:
        await bus.send(ring.call_id, PhoneRing(
            issued_by="phone desk", supervisor=ring.supervisor_id,
            outcome=ring.result.outcome, sip_status=ring.result.sip_status), timeout=5.0)

    return report


class PhoneDeskService:
    """Owns the LiveKit API client and the desk's task; `start()` then `aclose()`.

    With a `lease` (production: one per Redis prefix, phone_leader.py) the desk runs only
    while this process holds it, and stops if it is lost; without one it simply runs."""

    def __init__(self, desk_for: Callable[[api.LiveKitAPI], PhoneDesk],
                 lkapi_for: Callable[[], api.LiveKitAPI], *,
                 lease: DeskLease | None = None) -> None:
        self._desk_for, self._lkapi_for, self.lease = desk_for, lkapi_for, lease
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.desk: PhoneDesk | None = None
        self.running = False  # this process's desk is the one ringing phones

    @classmethod
    def from_settings(cls, settings: Settings, broker: EscalationBroker, room_of: RoomOf,
                      bus: ControlBus | None = None) -> PhoneDeskService | None:
        """None when PHONE_SUPERVISORS is empty (Settings already checked the rest)."""
        people = parse_phone_supervisors(settings.phone_supervisors)
        if not people:
            return None
        url, key = settings.livekit_url, settings.livekit_api_key
        secret = settings.livekit_api_secret
        trunk, ring_s = settings.sip_outbound_trunk_id, settings.phone_ring_timeout_s
        if not (url and key and secret and trunk):
            raise ValueError("PHONE_SUPERVISORS needs LIVEKIT_URL, LIVEKIT_API_KEY, "
                             "LIVEKIT_API_SECRET and SIP_OUTBOUND_TRUNK_ID")

        def lkapi_for() -> api.LiveKitAPI:
            return api.LiveKitAPI(url, key, secret.get_secret_value())

        def desk_for(lk: api.LiveKitAPI) -> PhoneDesk:
            return PhoneDesk(broker, people, livekit_dialer(lk, trunk, ring_s=ring_s),
                             room_of, hang_up_leg=livekit_hang_up_leg(lk),
                             on_ring=None if bus is None else report_to_call(bus))

        lease = (DeskLease.from_url(settings.redis_url, settings.redis_key_prefix)
                 if settings.redis_url else None)
        return cls(desk_for, lkapi_for, lease=lease)

    def start(self) -> None:
        """Start on the running event loop (once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async with self._lkapi_for() as lk:
            while not self._stop.is_set():
                if self.lease is None or await self._try(self.lease.acquire):
                    await self._serve(lk)
                if not self._stop.is_set():  # not the holder: look again a little later
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self._recheck_s())

    def _recheck_s(self) -> float:
        return 1.0 if self.lease is None else self.lease.ttl_s / 3

    async def _try(self, step: Callable[[], Awaitable[bool]]) -> bool:
        try:
            return await step()
        except Exception as exc:  # Redis down: no desk now, the next look retries
            log.warning("phone desk lease: %s", type(exc).__name__)
            return False

    async def _serve(self, lk: api.LiveKitAPI) -> None:
        """Run the desk until stopped or, with a lease, until a renewal fails."""
        self.desk = self._desk_for(lk)
        term = asyncio.Event()
        self.running = True
        log.info("phone desk: %d supervisor(s) on duty by phone", len(self.desk.supervisors))
        desk = asyncio.ensure_future(self.desk.run(term))
        try:
            while not self._stop.is_set() and not desk.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._recheck_s())
                if self.lease is not None and not await self._try(self.lease.renew):
                    log.warning("phone desk: lost the lease; another process rings phones")
                    break
        finally:
            term.set()
            self.running = False
            with contextlib.suppress(Exception):
                await desk
            if self.lease is not None:
                with contextlib.suppress(Exception):
                    await self.lease.release()

    async def aclose(self) -> None:
        """Sign the phones off (away), give up the lease and close the LiveKit client."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
        if self.lease is not None:
            await self.lease.aclose()
