"""Fallback adapters: an ordered list of providers per kind, switched without dead air.

Each adapter tries its providers in order. A provider is abandoned for this request when it
fails to connect, answers with an HTTP error, or *stalls* (no first result within the
kind's `stall_timeout`); it is then marked unhealthy with exponential backoff (a 429 waits
exactly Retry-After) and probed back to health in the background (`health.py`). Later
requests skip unhealthy providers, so only the first caller pays the stall. When every
provider fails the adapter raises a `SpeechError` with `retryable=False` that names each
failure: the voice session answers it with the pre-rendered apology and the flow's error
route. This module holds what the adapters share; each kind's adapter lives with its
interface: `stt/fallback.py`, `tts/fallback.py`, `llm/fallback.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from callcenter.speech.errors import FailureReason, ProviderError, SpeechError
from callcenter.speech.health import Probe, ProviderHealth

P = TypeVar("P", bound=Any)


class ProviderPool(Generic[P]):
    """The ordered providers of one kind, each with its health."""

    def __init__(
        self,
        kind: str,
        providers: Sequence[P],
        *,
        probes: Sequence[Probe | None] | None = None,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        if not providers:
            raise ValueError(f"a fallback {kind} needs at least one provider")
        if probes is not None and len(probes) != len(providers):
            raise ValueError("give one probe (or None) per provider")
        self.kind = kind
        self.providers = list(providers)
        names = [str(getattr(p, "name", kind)) for p in providers]
        # Same provider twice (e.g. two regions): number them so logs stay unambiguous.
        labels = [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]
        self.health = [
            ProviderHealth(
                label,
                probes[i] if probes is not None else getattr(p, "probe", None),
                base_backoff=base_backoff,
                max_backoff=max_backoff,
            )
            for i, (label, p) in enumerate(zip(labels, providers, strict=True))
        ]

    def candidates(self, after: int = -1) -> list[int]:
        """Indexes to try, in order: healthy first, then (as a last resort) unhealthy ones
        that are neither rate-limited nor failing permanently (a rejected key, an unknown
        model: 401/403/404). `after` skips those tried."""
        order = range(after + 1, len(self.providers))
        healthy = [i for i in order if self.health[i].healthy]
        last = [
            i for i in order
            if not self.health[i].healthy and not self.health[i].rate_limited
            and not self.health[i].last_permanent
        ]
        return healthy + last

    def all_failed(self, errors: list[str]) -> SpeechError:
        detail = "; ".join(errors) or "every provider is marked unhealthy (backing off)"
        return SpeechError(f"fallback-{self.kind}", f"every provider failed: {detail}",
                           retryable=False)

    async def aclose(self) -> None:
        for h in self.health:
            await h.aclose()
        for p in self.providers:
            await p.aclose()


def as_speech_error(name: str, exc: BaseException) -> SpeechError:
    """Any provider exception as a SpeechError (offline engines may raise anything)."""
    if isinstance(exc, SpeechError):
        return exc
    return SpeechError(name, f"{type(exc).__name__}: {exc}")


_closing: set[asyncio.Task[None]] = set()


async def _close(obj: object) -> None:
    aclose = getattr(obj, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def close_quietly(obj: object) -> None:
    """Close an abandoned stream in the background: a stalled server may never answer our
    close handshake, and the caller must not wait for it."""
    task = asyncio.get_running_loop().create_task(_close(obj))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def stall_error(name: str, kind: str, timeout: float) -> ProviderError:
    return ProviderError(name, f"no {kind} within {timeout:g} s (stalled)",
                         reason=FailureReason.STALL)
