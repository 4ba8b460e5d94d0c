"""Supervisor presence: who can take calls, how many, with which skills, seen when."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class SupervisorStatus(StrEnum):
    AVAILABLE = "available"  # takes offers while it has spare capacity
    BUSY = "busy"  # keeps its calls, takes no new offers (wrap-up, a break at the desk)
    AWAY = "away"  # signed off, or its heartbeats stopped


@dataclass(frozen=True, slots=True)
class Presence:
    """One supervisor as routing sees it.

    The supervisor reports status, capacity and skills; the broker owns `last_heartbeat`,
    `load` (open offers plus connected calls) and `idle_since` (when it last finished a call
    or became available), so a client cannot talk itself to the front of the line.
    """

    supervisor_id: str
    status: SupervisorStatus = SupervisorStatus.AVAILABLE
    capacity: int = 1
    skills: frozenset[str] = field(default_factory=frozenset)
    last_heartbeat: float = 0.0
    load: int = 0
    idle_since: float = 0.0

    def __post_init__(self) -> None:
        # Consoles send plain strings; identity checks on the enum must still hold.
        object.__setattr__(self, "status", SupervisorStatus(self.status))

    def alive(self, now: float, ttl_s: float) -> bool:
        """Heard from within the heartbeat TTL."""
        return now - self.last_heartbeat <= ttl_s

    def effective_status(self, now: float, ttl_s: float) -> SupervisorStatus:
        return self.status if self.alive(now, ttl_s) else SupervisorStatus.AWAY

    def has_skills(self, required: Iterable[str]) -> bool:
        return self.skills.issuperset(required)

    def can_take(self, required: Iterable[str], now: float, ttl_s: float) -> bool:
        """Free for a new offer: alive, available, spare capacity and the skills."""
        return (
            self.alive(now, ttl_s)
            and self.status is SupervisorStatus.AVAILABLE
            and self.load < self.capacity
            and self.has_skills(required)
        )
