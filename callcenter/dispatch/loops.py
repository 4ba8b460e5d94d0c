"""Helpers for the long-running loops (heartbeat, watchdog) that must survive errors."""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a library turned into an ordinary exception.

    Some clients (redis-py among them) catch `CancelledError` mid-command and raise a
    connection error instead; a loop that logs and continues on `Exception` would then
    ignore its own cancellation forever and hang shutdown.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError
