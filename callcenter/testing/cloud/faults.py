"""Faults a fake provider server injects, and the aiohttp server plumbing they share."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from aiohttp import web


class FaultKind(StrEnum):
    STATUS = "status"  # answer the request with an HTTP error (e.g. 429 + Retry-After, 503)
    STALL = "stall"  # accept, then say nothing until the client gives up
    DROP = "drop"  # send `after` messages, then cut the TCP connection (no close frame)


@dataclass(slots=True)
class Fault:
    """One injected fault; applies to the next `times` requests (-1: until cleared)."""

    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    after: int = 0
    times: int = 1


class FakeServer:
    """A 127.0.0.1 aiohttp server on a free port with a queue of faults and an API key."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.faults: list[Fault] = []
        self.requests = 0
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def next_fault(self) -> Fault | None:
        """The fault for this request (consumes one use of it)."""
        self.requests += 1
        if not self.faults:
            return None
        fault = self.faults[0]
        if fault.times > 0:
            fault.times -= 1
            if fault.times == 0:
                self.faults.pop(0)
        return fault

    async def start(self) -> None:
        # Short shutdown: a test's stalled handlers must not hold the server for a minute.
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def status_response(fault: Fault, message: str) -> web.Response:
    """The HTTP error a STATUS fault answers with (JSON body, Retry-After if set)."""
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    return web.json_response(
        {"error": {"message": message, "code": fault.status}}, status=fault.status, headers=headers
    )


async def stall_until_disconnect(request: web.Request) -> None:
    """Hold the request open, saying nothing, until the client hangs up.

    aiohttp does not cancel handlers when a client goes away, so watch the transport.
    """
    while request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(0.02)


def cut_connection(request: web.Request) -> None:
    """Drop the TCP connection without a goodbye: what a dead proxy or crash looks like."""
    if request.transport is not None:
        request.transport.abort()
