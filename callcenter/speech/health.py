"""Provider health: exponential backoff after a failure, recovery probed in the background.

A provider that failed is left alone for a while so the next call does not pay the same
stall again: `base_backoff * 2**(failures-1)` seconds (capped), or exactly the server's
Retry-After for a 429, or `max_backoff` for a permanent error (a rejected key, an unknown
model or voice: it will not heal by itself).
When the wait is over, a cheap probe (e.g. list models) runs in the background; only when it
succeeds does the provider take traffic again. Without a probe the provider becomes
available when the wait ends and the next real request is the probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from callcenter.speech.errors import FailureReason, ProviderError, SpeechError

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[None]]


class ProviderHealth:
    """Health of one provider inside a fallback list."""

    def __init__(
        self,
        name: str,
        probe: Probe | None = None,
        *,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
        probe_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.probe = probe
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.probe_timeout = probe_timeout
        self._clock = clock
        self.failures = 0
        self.unhealthy_until = 0.0
        self.last_reason: FailureReason | None = None
        self.last_permanent = False  # the last failure cannot heal by retrying (401/403/404)
        self.last_error = ""
        self._recovering = False
        self._task: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> bool:
        """May take traffic now."""
        return not self._recovering and self._clock() >= self.unhealthy_until

    @property
    def rate_limited(self) -> bool:
        """Inside a Retry-After window: must not be called even as a last resort."""
        return self.last_reason is FailureReason.RATE_LIMITED and not self.healthy

    def backoff_for(self, error: SpeechError) -> float:
        """How long to leave the provider alone after `error`."""
        if (isinstance(error, ProviderError) and error.reason is FailureReason.RATE_LIMITED
                and error.retry_after is not None):
            return error.retry_after
        if error.permanent:
            return self.max_backoff
        return float(min(self.max_backoff, self.base_backoff * 2 ** max(0, self.failures - 1)))

    def mark_ok(self) -> None:
        self.failures = 0
        self.unhealthy_until = 0.0
        self.last_reason = None
        self.last_permanent = False

    def mark_failed(self, error: SpeechError) -> None:
        """Record a failure and schedule recovery."""
        self.failures += 1
        self.last_reason = error.reason if isinstance(error, ProviderError) else None
        self.last_permanent = error.permanent
        self.last_error = str(error)
        delay = self.backoff_for(error)
        self.unhealthy_until = self._clock() + delay
        log.warning(
            "speech provider %s unhealthy for %.2f s (failure %d): %s",
            self.name, delay, self.failures, self.last_error,
        )
        if self.probe is not None and (self._task is None or self._task.done()):
            with contextlib.suppress(RuntimeError):  # no running loop: recover lazily
                self._recovering = True
                self._task = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        assert self.probe is not None
        try:
            while True:
                await asyncio.sleep(max(0.0, self.unhealthy_until - self._clock()))
                try:
                    async with asyncio.timeout(self.probe_timeout):
                        await self.probe()
                except (SpeechError, TimeoutError, OSError) as exc:
                    self.failures += 1
                    error = exc if isinstance(exc, SpeechError) else SpeechError(self.name, "probe")
                    delay = self.backoff_for(error)
                    self.unhealthy_until = self._clock() + delay
                    log.info("probe of %s failed; next in %.2f s", self.name, delay)
                    continue
                log.info("speech provider %s recovered", self.name)
                self.mark_ok()
                return
        finally:
            self._recovering = False

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
