"""The background routing task: a pass whenever there is work, and at least every interval."""

from __future__ import annotations

import asyncio
import logging

from callcenter.dispatch.outage import OutageLog, is_outage
from callcenter.escalation.broker import EscalationBroker

log = logging.getLogger(__name__)


async def run_routing(
    broker: EscalationBroker, *, interval_s: float = 0.25, stop: asyncio.Event | None = None
) -> None:
    """Route until `stop` is set or the task is cancelled. Several may run on one Redis:
    every decision is applied atomically, so a duplicate pass only wastes a little work."""
    stop = stop or asyncio.Event()
    # An outage is one line when it starts and one when it ends, not a traceback per pass.
    outage = OutageLog(log, "escalation broker (Redis)",
                       "routing passes are retried; waiting callers keep their places")
    while not stop.is_set():
        try:
            await broker.route_once()
            outage.ok()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A Redis blip must not kill routing for every queue; the next pass retries.
            if is_outage(exc):
                outage.failed(exc)
            else:
                log.exception("escalation routing pass failed; retrying")
            await asyncio.sleep(interval_s)
            continue  # wait_for_work may need the same unreachable Redis
        await broker.wait_for_work(interval_s)
