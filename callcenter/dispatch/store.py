"""Call checkpoints, leases and fencing tokens: the contract both stores implement.

A worker running a call holds its *lease*. Taking a lease increments the call's fencing token;
every checkpoint write and renewal is checked against the current token, so a worker that lost
its call (it stalled, its lease expired, the call was re-dispatched) can no longer write state
and stops the call as soon as its next renewal fails. Two workers never both commit a call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class LeaseLost(Exception):
    """The call's lease now belongs to another worker (or the call has finished)."""


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to run one call, identified by its fencing token."""

    call_id: str
    worker_id: str
    token: int

    @property
    def holder(self) -> str:
        return f"{self.worker_id}|{self.token}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The last state a call's session saved (opaque JSON data, owned by the session)."""

    call_id: str
    data: dict[str, Any]
    seq: int
    token: int
    worker_id: str
    saved_at: float


@dataclass(frozen=True, slots=True)
class ActiveCall:
    """A call some worker has started and not finished: what a re-dispatch needs."""

    call_id: str
    room_name: str
    agent_name: str
    worker_id: str


class CheckpointStore(Protocol):
    """Leases, checkpoints, worker heartbeats and the watchdog lock (Redis or in memory)."""

    async def acquire(
        self, call_id: str, worker_id: str, *, room_name: str, agent_name: str, ttl_s: float
    ) -> Lease | None:
        """Take the call's lease; None if another worker holds it or the call finished."""
        ...

    async def renew(self, leases: Sequence[Lease], ttl_s: float) -> list[Lease]:
        """Extend leases; returns the ones that were lost."""
        ...

    async def save(self, lease: Lease, data: Mapping[str, Any]) -> int:
        """Write a checkpoint under `lease`; returns its sequence number or raises LeaseLost."""
        ...

    def take_restored(self) -> list[str]:
        """Calls whose lease `renew` re-established because the store had lost it (a Redis
        restarted without persistence); each is reported once. Their checkpoints are gone
        too: the worker writes them again from memory."""
        ...

    async def load(self, call_id: str) -> Checkpoint | None: ...

    async def finish(self, lease: Lease, retention_s: float = 3600.0) -> None:
        """The call ended: it is never re-dispatched; the last checkpoint is kept a while."""
        ...

    async def release(self, lease: Lease) -> None:
        """Give the call up without finishing it (drain timeout): the watchdog re-dispatches."""
        ...

    async def orphaned(self) -> list[ActiveCall]:
        """Active calls whose lease has expired (their worker stopped heartbeating)."""
        ...

    async def claim_redispatch(self, call_id: str, ttl_s: float) -> bool:
        """True once per `ttl_s` per call: keeps watchdogs from dispatching a call twice."""
        ...

    async def worker_heartbeat(
        self, worker_id: str, info: Mapping[str, Any], ttl_s: float
    ) -> None: ...

    async def live_workers(self) -> dict[str, dict[str, Any]]: ...

    async def try_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or extend a named lock (the watchdog's); False if someone else holds it."""
        ...

    async def aclose(self) -> None: ...
