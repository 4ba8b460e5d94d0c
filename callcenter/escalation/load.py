"""What a ticket's move does to supervisors' load: one rule set for both brokers.

Load counts open offers plus connected calls, so an offer reserves the capacity its
accept will use, and a supervisor with capacity 1 is never offered two calls at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.escalation.tickets import Ticket, TicketState

S = TicketState


@dataclass(frozen=True, slots=True)
class LoadChange:
    supervisor_id: str
    delta: int
    idle_from_now: bool = False  # a call finished: the supervisor's idle time starts again


def load_changes(before: Ticket | None, after: Ticket) -> list[LoadChange]:
    """The load changes a move from `before` to `after` implies."""
    out: list[LoadChange] = []
    offered_to = before.offered_to if before and before.state is S.OFFERED else None
    serving = before.supervisor if before and before.state is S.CONNECTED else None
    accepted_own = offered_to is not None and after.state is S.CONNECTED and (
        after.supervisor == offered_to
    )
    if offered_to and not accepted_own:
        out.append(LoadChange(offered_to, -1))
    if after.state is S.OFFERED and after.offered_to and not offered_to:
        out.append(LoadChange(after.offered_to, +1))
    if after.state is S.CONNECTED and after.supervisor and not serving and not accepted_own:
        out.append(LoadChange(after.supervisor, +1))
    if serving and after.state is not S.CONNECTED:
        out.append(LoadChange(serving, -1, idle_from_now=True))
    return out


def newly_answered(before: Ticket | None, after: Ticket) -> bool:
    """The move is the call being answered (feeds the queue's expected-wait estimate)."""
    return after.state is S.CONNECTED and (before is None or before.state is not S.CONNECTED)
