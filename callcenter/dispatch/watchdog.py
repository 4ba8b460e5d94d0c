"""Watchdog: finds calls whose worker stopped heartbeating and dispatches them again.

Self-hosted LiveKit does not re-dispatch a lost worker's jobs, so any worker may run this
loop; a lock in the store makes exactly one of them active at a time. A re-dispatch carries
the call id in the job metadata, so the worker that takes it resumes from the checkpoint.

After a store outage every lease may have lapsed although its worker is alive and will renew
it on its next heartbeat; re-dispatching then would move every live call. So once the store
answers again the watchdog waits `grace_s` (a lease TTL and a few heartbeats) before it takes
a missing lease to mean a dead worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from livekit import api

from callcenter.dispatch.job import CALL_ID_KEY
from callcenter.dispatch.loops import raise_if_cancelled
from callcenter.dispatch.outage import OutageLog, describe, is_outage
from callcenter.dispatch.store import ActiveCall, CheckpointStore

log = logging.getLogger(__name__)

Redispatch = Callable[[ActiveCall], Awaitable[None]]
LOCK_NAME = "watchdog"


class Watchdog:
    """Scan for orphaned calls every `interval_s` while holding the watchdog lock."""

    def __init__(
        self,
        store: CheckpointStore,
        redispatch: Redispatch,
        *,
        owner: str,
        interval_s: float = 0.25,
        lock_ttl_s: float = 2.0,
        retry_after_s: float = 5.0,
        grace_s: float = 3.0,
    ) -> None:
        self._store = store
        self._redispatch = redispatch
        self._owner = owner
        self._interval = interval_s
        self._lock_ttl = lock_ttl_s
        # A dispatch nobody takes (no free worker) is retried after this long.
        self._retry_after = retry_after_s
        self.redispatched: list[str] = []
        self._stopped = False
        self._grace = grace_s
        self._quiet_until = 0.0
        self.outage = OutageLog(log, "watchdog: checkpoint store (Redis)",
                                "re-dispatch paused until it is back")

    async def scan_once(self) -> list[str]:
        """One pass; returns the call ids dispatched again (empty if another watchdog leads)."""
        locked = await self._store.try_lock(LOCK_NAME, self._owner, self._lock_ttl)
        if self.outage.down:
            self.outage.ok(f"waiting {self._grace:g} s for live workers to renew their leases")
            self._quiet_until = time.monotonic() + self._grace
        if not locked or time.monotonic() < self._quiet_until:
            return []
        done = []
        for call in await self._store.orphaned():
            if not await self._store.claim_redispatch(call.call_id, self._retry_after):
                continue
            try:
                await self._redispatch(call)
            except Exception as exc:
                raise_if_cancelled()
                # Retried after `retry_after_s` (the claim expires).
                if is_outage(exc):
                    log.error("re-dispatch of call %s (room %s) failed: %s", call.call_id,
                              call.room_name, describe(exc))
                else:
                    log.exception("re-dispatch of call %s (room %s) failed", call.call_id,
                                  call.room_name)
                continue
            log.warning("call %s lost its worker %s: re-dispatched", call.call_id, call.worker_id)
            done.append(call.call_id)
        self.redispatched.extend(done)
        return done

    def stop(self) -> None:
        """End `run()` after the current pass (a flag: cancellation alone can be swallowed)."""
        self._stopped = True

    async def run(self) -> None:
        while not self._stopped:
            try:
                await self.scan_once()
            except Exception as exc:  # keep watching through store hiccups
                raise_if_cancelled()
                if is_outage(exc):
                    self.outage.failed(exc)
                else:
                    log.exception("watchdog scan failed")
            await asyncio.sleep(self._interval)


def redispatch_metadata(call: ActiveCall) -> str:
    return json.dumps({CALL_ID_KEY: call.call_id, "resume": True})


def livekit_redispatcher(lkapi: api.LiveKitAPI) -> Redispatch:
    """Re-dispatch through LiveKit: `AgentDispatchService.create_dispatch` for the call's room."""

    async def redispatch(call: ActiveCall) -> None:
        req = api.CreateAgentDispatchRequest(
            agent_name=call.agent_name, room=call.room_name, metadata=redispatch_metadata(call)
        )
        await lkapi.agent_dispatch.create_dispatch(req)

    return redispatch
