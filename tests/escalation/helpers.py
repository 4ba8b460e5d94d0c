"""Helpers shared by the escalation tests (imported as tests.escalation.helpers)."""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.escalation import EscalationBroker, Presence, Queue, Ticket

QUEUES = (
    Queue("support", accept_timeout_s=10.0),
    Queue("billing", skills=frozenset({"billing"}), accept_timeout_s=10.0),
    Queue("vip", priority=5, accept_timeout_s=10.0),
)
TTL_S = 15.0


class FakeClock:
    """The brokers' clock, moved by hand so timeouts are decided, not waited for."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def online(
    broker: EscalationBroker, sup_id: str, *, skills: Iterable[str] = (), capacity: int = 1
) -> Presence:
    return await broker.heartbeat(
        Presence(sup_id, capacity=capacity, skills=frozenset(skills))
    )


def call(call_id: str, queue: str = "support", priority: int = 1, **kw: object) -> Ticket:
    return Ticket(call_id=call_id, queue=queue, priority=priority, **kw)  # type: ignore[arg-type]
