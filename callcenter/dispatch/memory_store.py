"""In-process CheckpointStore for the embedded default (same semantics as the Redis one)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.dispatch.store import ActiveCall, Checkpoint, Lease, LeaseLost


@dataclass(slots=True)
class _Expiring:
    value: str
    expires: float


class MemoryCheckpointStore:
    """Leases and checkpoints in a dict; shared by all workers of one process."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[str, _Expiring] = {}
        self._fences: dict[str, int] = {}
        self._checkpoints: dict[str, Checkpoint] = {}
        self._active: dict[str, ActiveCall] = {}
        self._done: dict[str, float] = {}
        self._marks: dict[str, float] = {}
        self._workers: dict[str, tuple[dict[str, Any], float]] = {}
        self._locks: dict[str, _Expiring] = {}

    def _live(self, table: dict[str, _Expiring], key: str) -> str | None:
        item = table.get(key)
        if item is None or item.expires <= self._clock():
            table.pop(key, None)
            return None
        return item.value

    def _owns(self, lease: Lease) -> bool:
        if self._fences.get(lease.call_id) != lease.token:
            return False
        current = self._live(self._leases, lease.call_id)
        return current in (None, lease.holder)

    async def acquire(
        self, call_id: str, worker_id: str, *, room_name: str, agent_name: str, ttl_s: float
    ) -> Lease | None:
        if self._done.get(call_id, 0.0) > self._clock():
            return None
        current = self._live(self._leases, call_id)
        if current is not None and not current.startswith(worker_id + "|"):
            return None
        token = self._fences.get(call_id, 0) + 1
        self._fences[call_id] = token
        lease = Lease(call_id, worker_id, token)
        self._leases[call_id] = _Expiring(lease.holder, self._clock() + ttl_s)
        self._active[call_id] = ActiveCall(call_id, room_name, agent_name, worker_id)
        return lease

    async def renew(self, leases: Sequence[Lease], ttl_s: float) -> list[Lease]:
        lost = []
        for lease in leases:
            if self._owns(lease):
                self._leases[lease.call_id] = _Expiring(lease.holder, self._clock() + ttl_s)
            else:
                lost.append(lease)
        return lost

    def take_restored(self) -> list[str]:
        return []  # memory never comes back empty while its calls run

    async def save(self, lease: Lease, data: Mapping[str, Any]) -> int:
        if not self._owns(lease):
            raise LeaseLost(f"call {lease.call_id}: token {lease.token} is no longer current")
        previous = self._checkpoints.get(lease.call_id)
        seq = (previous.seq if previous else 0) + 1
        # A JSON round trip both copies and proves the data survives the Redis store too.
        snapshot = json.loads(json.dumps(dict(data)))
        self._checkpoints[lease.call_id] = Checkpoint(
            lease.call_id, snapshot, seq, lease.token, lease.worker_id, time.time()
        )
        return seq

    async def load(self, call_id: str) -> Checkpoint | None:
        return copy.deepcopy(self._checkpoints.get(call_id))

    async def finish(self, lease: Lease, retention_s: float = 3600.0) -> None:
        if not self._owns(lease):
            raise LeaseLost(f"call {lease.call_id}: token {lease.token} is no longer current")
        self._leases.pop(lease.call_id, None)
        self._active.pop(lease.call_id, None)
        self._done[lease.call_id] = self._clock() + retention_s

    async def release(self, lease: Lease) -> None:
        if self._owns(lease):
            self._leases.pop(lease.call_id, None)

    async def orphaned(self) -> list[ActiveCall]:
        return [c for c in self._active.values() if self._live(self._leases, c.call_id) is None]

    async def claim_redispatch(self, call_id: str, ttl_s: float) -> bool:
        if self._marks.get(call_id, 0.0) > self._clock():
            return False
        self._marks[call_id] = self._clock() + ttl_s
        return True

    async def worker_heartbeat(self, worker_id: str, info: Mapping[str, Any], ttl_s: float) -> None:
        self._workers[worker_id] = (dict(info), self._clock() + ttl_s)

    async def live_workers(self) -> dict[str, dict[str, Any]]:
        now = self._clock()
        return {w: info for w, (info, exp) in self._workers.items() if exp > now}

    async def try_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        current = self._live(self._locks, name)
        if current not in (None, owner):
            return False
        self._locks[name] = _Expiring(owner, self._clock() + ttl_s)
        return True

    async def aclose(self) -> None:
        return None
