"""Telling a store outage from a bug, and saying so once per outage instead of per attempt.

Heartbeats, checkpoints and the watchdog all retry through a Redis outage. Each of them used
to log a traceback on every attempt (several a second, for every call); an operator needs one
line when the store goes away, saying what still works, and one when it is back.
"""

from __future__ import annotations

import logging
import time

import redis.exceptions

# Connection refused/reset, timeouts, a restarting Redis still loading its data, a replica
# that is read-only until failover promotes it: all pass; nothing about the data is wrong.
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # includes BusyLoadingError
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    OSError,  # and so the built-in ConnectionError and TimeoutError
)


def is_outage(exc: BaseException) -> bool:
    """True when `exc` means the store is unreachable for now (retry), not a bug (report)."""
    return isinstance(exc, _OUTAGE_ERRORS)


def describe(exc: BaseException) -> str:
    """`ConnectionError: Connection refused`, one line."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class OutageLog:
    """One WARNING when `what` becomes unreachable, one INFO when it answers again.

    A failure that the next attempt already fixes (a pooled connection the restarted server
    closed) is not an outage: it is said only once failures have lasted `after_s`.
    """

    def __init__(
        self, logger: logging.Logger, what: str, meanwhile: str, *, after_s: float = 0.5
    ) -> None:
        self._log = logger
        self._what = what
        self._meanwhile = meanwhile
        self._after = after_s
        self._said = False
        self.down_since: float | None = None
        self.outages = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        """An attempt failed with an outage error; says so once per outage."""
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
        if not self._said and now - self.down_since >= self._after:
            self._said = True
            self.outages += 1
            self._log.warning("%s unreachable for %.1f s (%s); %s", self._what,
                              now - self.down_since, describe(exc), self._meanwhile)

    def ok(self, detail: str = "") -> float | None:
        """An attempt succeeded; returns how long the outage lasted if one just ended."""
        if self.down_since is None:
            return None
        lasted = time.monotonic() - self.down_since
        said, self._said, self.down_since = self._said, False, None
        if said:
            extra = f"; {detail}" if detail else ""
            self._log.info("%s reachable again after %.1f s%s", self._what, lasted, extra)
        return lasted
