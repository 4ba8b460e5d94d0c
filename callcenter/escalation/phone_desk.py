"""Supervisors reached by phone: the desk answers their offers by ringing them into the call.

A phone supervisor has no console to accept an offer, so the desk does it for them: it keeps
their presence alive while they are on duty, waits for their offers, and rings their phone
into the caller's own room (`create_sip_participant`, answered or refused with a SIP status:
`livekit_join.dial_supervisor`). Then:
- answered: the desk accepts the offer; the supervisor is already in the room, talking.
  If the offer went meanwhile (expired, the caller hung up), their leg is hung up again.
- busy, no answer, declined, unreachable, or no reply in time: the offer is declined, so
  routing offers the call to the next free supervisor first, and this supervisor rests
  (away) for `rest_s` instead of being rung again at once. With nobody left to answer, the
  caller's side takes the flow's no-supervisor route (`port.QueueEscalation`).
Every ring is kept in `rings` (outcome, SIP status) and handed to `on_ring`: production
tells the call (a `PhoneRing` command on the control bus), so the call's own timeline says
which phone answered or why not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from callcenter.escalation.broker import EscalationBroker
from callcenter.escalation.livekit_join import DialResult
from callcenter.escalation.offers import Offer
from callcenter.escalation.presence import Presence, SupervisorStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PhoneSupervisor:
    supervisor_id: str
    phone: str  # E.164, dialled through the outbound trunk
    skills: frozenset[str] = field(default_factory=frozenset)
    name: str = ""


# (caller's room, supervisor) -> how ringing them went. Production: `livekit_dialer`.
Dialer = Callable[[str, PhoneSupervisor], Awaitable[DialResult]]
# call id -> the room it is in (None: the call is gone). Production: the calls table.
RoomOf = Callable[[str], Awaitable[str | None]]
# (room, participant identity): hang up a leg that answered too late for its offer.
HangUpLeg = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Ring:
    supervisor_id: str
    call_id: str
    result: DialResult
    accepted: bool


# How a ring went, reported once it is settled. Production: the call's control bus.
OnRing = Callable[[Ring], Awaitable[None]]


async def _no_hang_up(_room: str, _identity: str) -> None:
    return None


async def _no_report(_ring: Ring) -> None:
    return None


class PhoneDesk:
    """Rings phone supervisors for their offers; `run()` until stopped."""

    def __init__(
        self,
        broker: EscalationBroker,
        supervisors: Iterable[PhoneSupervisor],
        dial: Dialer,
        room_of: RoomOf,
        *,
        hang_up_leg: HangUpLeg = _no_hang_up,
        on_ring: OnRing | None = None,
        heartbeat_s: float = 5.0,
        rest_s: float = 60.0,
        ring_margin_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.broker = broker
        self.supervisors = list(supervisors)
        self._dial, self._room_of, self._hang_up = dial, room_of, hang_up_leg
        self._on_ring = on_ring or _no_report
        self.heartbeat_s, self.rest_s, self.ring_margin_s = heartbeat_s, rest_s, ring_margin_s
        self._clock = clock
        self._resting_until: dict[str, float] = {}
        self.rings: list[Ring] = []

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        tasks = [asyncio.ensure_future(self._serve(s, stop)) for s in self.supervisors]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for s in self.supervisors:  # off duty: no offers while nobody rings them
                try:
                    await self.broker.set_status(s.supervisor_id, SupervisorStatus.AWAY)
                except Exception:  # the broker may be down at shutdown; presence expires
                    log.warning("could not sign off phone supervisor %s", s.supervisor_id)

    def _status(self, sup: PhoneSupervisor) -> SupervisorStatus:
        until = self._resting_until.get(sup.supervisor_id, 0.0)
        return SupervisorStatus.AWAY if self._clock() < until else SupervisorStatus.AVAILABLE

    async def _serve(self, sup: PhoneSupervisor, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.broker.heartbeat(Presence(sup.supervisor_id, self._status(sup),
                                                     capacity=1, skills=sup.skills))
                offer = await self.broker.next_offer(sup.supervisor_id, self.heartbeat_s)
                if offer is not None and self._status(sup) is SupervisorStatus.AWAY:
                    # Offered just before they went away: let it go, do not ring them.
                    await self.broker.decline(offer.offer_id, sup.supervisor_id)
                elif offer is not None:
                    await self.ring(sup, offer)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A broker blip must not take a supervisor off duty for good.
                log.exception("phone desk: serving %s failed; retrying", sup.supervisor_id)
                await asyncio.sleep(min(self.heartbeat_s, 1.0))

    async def ring(self, sup: PhoneSupervisor, offer: Offer) -> Ring:
        """Ring one offer through to the supervisor's phone, and settle the offer."""
        room = await self._room_of(offer.call_id)
        if room is None:
            result = DialResult("unreachable", sup.phone, message="the call has no room")
        else:
            result = await self._dial_in_time(room, sup, offer)
        accepted = False
        if result.answered:
            accepted = await self.broker.accept(offer.offer_id, sup.supervisor_id) is not None
            if not accepted and room is not None:
                # Answered after the offer went (the caller hung up, it timed out): the
                # supervisor must not sit in a room nobody is waiting in.
                await self._hang_up(room, result.participant_identity or sup.supervisor_id)
        else:
            # Away before the decline, not after: the decline wakes routing, which must
            # not hand the call straight back to this supervisor.
            self._resting_until[sup.supervisor_id] = self._clock() + self.rest_s
            await self.broker.set_status(sup.supervisor_id, SupervisorStatus.AWAY)
            await self.broker.decline(offer.offer_id, sup.supervisor_id)
            log.info("phone supervisor %s %s (SIP %s) for call %s; resting %.0f s",
                     sup.supervisor_id, result.outcome, result.sip_status, offer.call_id,
                     self.rest_s)
        ring = Ring(sup.supervisor_id, offer.call_id, result, accepted)
        self.rings.append(ring)
        try:
            await self._on_ring(ring)
        except Exception as exc:  # for the record only; the offer is already settled
            log.warning("phone desk: could not report the ring of %s to call %s (%s)",
                        sup.supervisor_id, offer.call_id, type(exc).__name__)
        return ring

    async def _dial_in_time(self, room: str, sup: PhoneSupervisor, offer: Offer) -> DialResult:
        # The SIP side has its own ringing timeout; this bounds a LiveKit that never replies.
        # The window is the offer's own (both times are from the broker's clock).
        window = offer.expires_at - (offer.ticket.offered_at or offer.expires_at)
        left = window + self.ring_margin_s
        try:
            return await asyncio.wait_for(self._dial(room, sup), max(left, 1.0))
        except TimeoutError:
            return DialResult("no_answer", sup.phone, message="no reply before the offer ran out")
