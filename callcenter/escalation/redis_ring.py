"""Ringing supervisors: one pub/sub subscription per broker instead of a BLPOP each.

An offer is pushed to the supervisor's inbox list and, in the same Lua step, announced on
the ring channel with the supervisor's id. Each broker process holds one subscription and
wakes its own waiting `next_offer` calls; they then pop their inbox through the command
batch. A hundred waiting supervisors used to hold a hundred connections in BLPOP, each
woken, read and re-armed on its own; now they share one connection and one pipeline.
Pub/sub may drop a message (a reconnect): the inbox list is the truth and every waiter
looks at it again at least every `fallback_s`, so a lost ring delays an offer, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)
_RETRY_S = 0.5


class RingListener:
    """Wakes local waiters when their supervisor id is announced on `channel`."""

    def __init__(self, client: aioredis.Redis, channel: str, *, fallback_s: float = 1.0) -> None:
        self._r = client
        self.channel = channel
        self.fallback_s = fallback_s
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def watch(self, supervisor_id: str) -> asyncio.Event:
        """An event set whenever this supervisor is rung. The first watcher starts the
        subscription and waits (briefly) for it, so a ring right after is not missed."""
        ev = asyncio.Event()
        self._waiters[supervisor_id].add(ev)
        if self._task is None or self._task.done():
            self._subscribed.clear()
            self._task = asyncio.get_running_loop().create_task(self._run())
        if not self._subscribed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), self.fallback_s)
        return ev

    def unwatch(self, supervisor_id: str, ev: asyncio.Event) -> None:
        waiters = self._waiters.get(supervisor_id)
        if waiters is not None:
            waiters.discard(ev)
            if not waiters:
                del self._waiters[supervisor_id]

    def _ring(self, supervisor_id: str) -> None:
        for ev in self._waiters.get(supervisor_id, ()):
            ev.set()

    def _ring_all(self) -> None:
        for waiters in self._waiters.values():
            for ev in waiters:
                ev.set()

    async def _run(self) -> None:
        while True:
            pubsub = self._r.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    # get_message with a timeout, not listen(): listen would hit the pool's
                    # socket timeout on a quiet channel.
                    msg: Any = await pubsub.get_message(timeout=self.fallback_s)
                    if msg is None:
                        continue
                    if msg["type"] == "subscribe":
                        self._subscribed.set()
                        self._ring_all()  # rings sent while we were away: look again
                    elif msg["type"] == "message":
                        self._ring(str(msg["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                # Waiters fall back to looking at their inbox every fallback_s meanwhile.
                self._subscribed.clear()
                log.warning("escalation ring subscription lost; resubscribing", exc_info=True)
                await asyncio.sleep(_RETRY_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
