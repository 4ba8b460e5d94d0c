"""The call session's port to escalation: one `request` per Escalate action.

`NoSupervisors` is for deployments where nobody can ever answer; `QueueEscalation` puts
the call in a broker's queue and reports when a supervisor has it (or the wait ran out).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from callcenter.escalation.broker import EscalationBroker, TicketStatus
from callcenter.escalation.errors import IllegalTransition
from callcenter.escalation.queues import priority_value
from callcenter.escalation.tickets import Ticket, TicketState
from callcenter.flow.actions import Escalate
from callcenter.flow.events import EscalationResult

S = TicketState
OnUpdate = Callable[[TicketStatus], Awaitable[None]]
_OUTCOMES = {
    S.CONNECTED: "connected",
    S.TIMED_OUT: "timeout",
    S.RETURNED: "handed_back",
    S.ENDED: "ended",
    S.ABANDONED: "ended",
}


Closing = Literal["caller_hangup", "returned", "ended"]


class CallEscalation(Protocol):
    """Puts a call in a supervisor queue and reports how it went."""

    async def request(self, call_id: str, action: Escalate,
                      on_update: OnUpdate | None = None) -> EscalationResult:
        """Wait for a supervisor; `on_update` hears queue moves (the caller's place in line)."""
        ...

    async def attach(self, call_id: str, action: Escalate, supervisor: str) -> None:
        """A supervisor took the call over (no queue): they are busy with it until `close`."""
        ...

    async def close(self, call_id: str, how: Closing) -> None:
        """The escalation is over: the caller hung up, or the supervisor handed back or ended."""
        ...


class NoSupervisors:
    """Nobody can take the call (no console, nobody staffed).

    The flow then follows its timeout route at once, instead of leaving the caller on
    hold for the whole timeout with nobody who could ever answer.
    """

    async def request(self, call_id: str, action: Escalate,
                      on_update: OnUpdate | None = None) -> EscalationResult:
        return EscalationResult(outcome="unavailable", note="no supervisor is online")

    async def attach(self, call_id: str, action: Escalate, supervisor: str) -> None:
        return None

    async def close(self, call_id: str, how: Closing) -> None:
        return None


class QueueEscalation:
    """CallEscalation over an EscalationBroker.

    A call whose worker died is re-enqueued by the new worker with the same call id and
    keeps its place (enqueue is idempotent). A cancelled request leaves the ticket alone:
    cancellation means the call moves to another worker, not that the caller hung up; the
    session reports a hang-up with `broker.cancel(call_id, "caller_hangup")`.
    """

    def __init__(
        self,
        broker: EscalationBroker,
        *,
        update_s: float = 5.0,
        on_update: OnUpdate | None = None,
        grace_s: float = 2.0,
        unstaffed_checks: int = 2,
    ) -> None:
        self.broker = broker
        self._update_s = update_s
        self._on_update = on_update
        self._grace_s = grace_s
        # A waiting call whose queue nobody can answer any more (every supervisor signed off,
        # or the phone supervisors were busy and rest) takes the flow's no-supervisor route
        # after this many checks in a row, instead of holding until the timeout. 0: never.
        self._unstaffed_checks = unstaffed_checks

    async def request(self, call_id: str, action: Escalate,
                      on_update: OnUpdate | None = None) -> EscalationResult:
        on_update = on_update or self._on_update
        if await self.broker.staffed(action.queue) == 0:
            return await NoSupervisors().request(call_id, action)
        ticket = Ticket(
            call_id=call_id,
            queue=action.queue,
            priority=priority_value(action.priority),
            reason=action.reason,
            context={"summary": dict(action.summary)},
            timeout_s=action.timeout,
        )
        await self.broker.enqueue(ticket)
        loop = asyncio.get_running_loop()
        # The broker times the ticket out itself; this backstop covers a routing loop that
        # is not running, so the caller never holds forever.
        deadline = loop.time() + action.timeout + self._grace_s
        last: TicketStatus | None = None
        unstaffed = 0
        while True:
            wait = max(0.0, min(self._update_s, deadline - loop.time()))
            st = await self.broker.wait_update(call_id, wait, last)
            if st is None:
                return EscalationResult(outcome="unavailable", note="escalation ticket vanished")
            if st.state in _OUTCOMES:
                return _result(st)
            if self._unstaffed_checks and st.state is S.WAITING:
                unstaffed = unstaffed + 1 if await self.broker.staffed(action.queue) == 0 else 0
                if unstaffed >= self._unstaffed_checks:
                    try:
                        await self.broker.cancel(call_id, "no_supervisors")
                    except IllegalTransition:  # someone took it meanwhile: it is theirs
                        last = st
                        continue
                    return EscalationResult(outcome="unavailable",
                                            note="no supervisor is left to answer")
            if on_update is not None and st.differs_from(last):
                await on_update(st)
            last = st
            if loop.time() >= deadline:
                return _result(TicketStatus(await self.broker.cancel(call_id, "timeout"), None,
                                            None))


    async def attach(self, call_id: str, action: Escalate, supervisor: str) -> None:
        """The taker's connected ticket: without it routing still offers them calls."""
        await self.broker.attach(Ticket(
            call_id=call_id, queue=action.queue, priority=priority_value(action.priority),
            reason=action.reason, context={"summary": dict(action.summary)},
            timeout_s=action.timeout,
        ), supervisor)

    async def close(self, call_id: str, how: Closing) -> None:
        """Free the supervisor (hand-back / end) or give up the caller's place (hang-up)."""
        st = await self.broker.status(call_id)
        if st is None:
            return
        if how == "caller_hangup" and st.state in (S.WAITING, S.OFFERED):
            await self.broker.cancel(call_id, "caller_hangup")
        elif st.state == S.CONNECTED and how == "returned":
            await self.broker.returned(call_id)
            await self.broker.end(call_id, "returned to the AI")
        elif st.state in (S.CONNECTED, S.RETURNED):
            await self.broker.end(call_id, how)


def _result(st: TicketStatus) -> EscalationResult:
    outcome = _OUTCOMES.get(st.state, "timeout")
    return EscalationResult(outcome=outcome, supervisor=st.supervisor)  # type: ignore[arg-type]
