"""Checkpoint writes that ride out a store outage: the call goes on, the newest state waits.

A call must not stop because Redis is away for a few seconds. When a write fails with an
outage error the state is kept in memory and one background task per call retries with
backoff, always writing the newest state, until the store answers. The fencing token still
decides: if the call moved to another worker meanwhile, the next save raises `LeaseLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Mapping
from typing import Any

from callcenter.dispatch.loops import raise_if_cancelled
from callcenter.dispatch.outage import OutageLog, describe, is_outage
from callcenter.dispatch.store import CheckpointStore, Lease, LeaseLost

log = logging.getLogger(__name__)

_BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)


def store_outage_log() -> OutageLog:
    """The one outage line a worker's calls share (not one per call)."""
    return OutageLog(log, "checkpoint store (Redis)",
                     "calls go on from memory; checkpoints and leases are retried")


class BufferedCheckpoints:
    """One call's checkpoint writer: writes through, buffers the newest state in an outage."""

    def __init__(self, store: CheckpointStore, lease: Lease, outage: OutageLog) -> None:
        self._store = store
        self._lease = lease
        self._outage = outage
        self._pending: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost: LeaseLost | None = None
        # The state last handed to `save`: what `restore` writes again if the store lost it.
        self._last: Mapping[str, Any] | None = None
        self.seq = 0  # sequence number of the last checkpoint the store has

    @property
    def pending(self) -> bool:
        """True while a checkpoint waits for the store to come back."""
        return self._pending is not None

    async def save(self, data: Mapping[str, Any]) -> int:
        """Write `data`; returns the stored sequence number (the previous one if buffered)."""
        if self._lost is not None:
            raise self._lost
        self._last = data
        if self._task is not None and not self._task.done():
            self._pending = copy.deepcopy(dict(data))  # newest wins; the retry writes it
            return self.seq
        try:
            self.seq = await self._store.save(self._lease, data)
        except LeaseLost:
            raise
        except Exception as exc:
            if not is_outage(exc):
                raise
            self._outage.failed(exc)
            # The session keeps changing its dict: keep a copy of this turn's state.
            self._pending = copy.deepcopy(dict(data))
            self._task = asyncio.get_running_loop().create_task(
                self._catch_up(), name=f"checkpoint-catch-up-{self._lease.call_id}")
            return self.seq
        self._outage.ok()
        return self.seq

    async def restore(self) -> None:
        """The store came back without this call's checkpoint: write the last one again.

        The session's own dict is written as it is now (at least as new as the last turn);
        a checkpoint already waiting for the store needs nothing: its catch-up writes it.
        """
        if self._last is None or self.pending or self._lost is not None:
            return
        with contextlib.suppress(LeaseLost):  # the heartbeat stops a call that moved on
            await self.save(copy.deepcopy(dict(self._last)))

    async def flush(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for a buffered checkpoint to be written; True if none waits."""
        task = self._task
        if task is None or task.done():
            return self._pending is None
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        return bool(done) and self._pending is None

    async def aclose(self) -> None:
        """Stop retrying (the call is over or moved on)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _catch_up(self) -> None:
        attempt = 0
        while self._pending is not None:
            data = self._pending
            try:
                self.seq = await self._store.save(self._lease, data)
            except LeaseLost as exc:
                self._lost, self._pending = exc, None
                return
            except Exception as exc:
                raise_if_cancelled()
                if not is_outage(exc):
                    log.error("call %s: checkpoint could not be written (%s); keeping the "
                              "last one", self._lease.call_id, describe(exc))
                    self._pending = None
                    return
                self._outage.failed(exc)
                await asyncio.sleep(_BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)])
                attempt += 1
                continue
            if self._pending is data:
                self._pending = None
        self._outage.ok(f"call {self._lease.call_id} checkpoint caught up (seq {self.seq})")
