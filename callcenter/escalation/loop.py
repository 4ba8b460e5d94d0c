"""The background routing task: a pass whenever there is work, and at least every interval."""

from __future__ import annotations

import asyncio
import logging

from callcenter.escalation.broker import EscalationBroker

log = logging.getLogger(__name__)


async def run_routing(
    broker: EscalationBroker, *, interval_s: float = 0.25, stop: asyncio.Event | None = None
) -> None:
    """Route until `stop` is set or the task is cancelled. Several may run on one Redis:
    every decision is applied atomically, so a duplicate pass only wastes a little work."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await broker.route_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            # A Redis blip must not kill routing for every queue; the next pass retries.
            log.exception("escalation routing pass failed; retrying")
            await asyncio.sleep(interval_s)
        await broker.wait_for_work(interval_s)
