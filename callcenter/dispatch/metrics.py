"""Prometheus metrics and the health endpoint of a worker process."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)

_TURN_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)
_DISPATCH_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class WorkerMetrics:
    """One registry per worker, so several workers in one test process don't collide."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.active_calls = Gauge("callcenter_worker_active_calls", "Calls running", registry=r)
        self.call_slots = Gauge("callcenter_worker_call_slots", "Max concurrent calls", registry=r)
        self.cpu_load = Gauge("callcenter_worker_cpu", "Process CPU in cores", registry=r)
        self.draining = Gauge("callcenter_worker_draining", "1 while draining", registry=r)
        self.jobs = Counter("callcenter_worker_jobs", "Jobs by outcome", ["outcome"], registry=r)
        self.turn_latency = Histogram(
            "callcenter_turn_latency_seconds",
            "End of caller turn to first agent audio",
            buckets=_TURN_BUCKETS,
            registry=r,
        )
        self.dispatch_latency = Histogram(
            "callcenter_dispatch_seconds",
            "Job assignment to call session running",
            buckets=_DISPATCH_BUCKETS,
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HealthServerError(Exception):
    """The health endpoint cannot be served (bad address); the message says what to fix."""


class HealthServer:
    """`GET /healthz` (JSON status; 503 while draining) and `GET /metrics` (Prometheus)."""

    def __init__(self, metrics: WorkerMetrics, status: Callable[[], dict[str, Any]]) -> None:
        self._metrics = metrics
        self._status = status
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on `host:port` (0: any free port); `self.port` is the port in use.

        A port already taken (a second worker on the host, which is how workers are run: one
        per core) is not fatal: the worker serves on a free port and logs which one.
        """
        app = web.Application()
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/metrics", self._prom)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        try:
            self.port = await self._bind(host, port)
        except OSError as exc:
            if port == 0 or exc.errno != errno.EADDRINUSE:
                await self.stop()
                raise HealthServerError(
                    f"cannot serve /healthz on {host}:{port}: {exc.strerror or exc} "
                    "(check --health-host)"
                ) from None
            self.port = await self._bind(host, 0)
            log.warning(
                "health port %d on %s is in use (another worker on this host?): /healthz and "
                "/metrics are on port %d instead; give each worker its own --health-port to "
                "scrape a fixed address",
                port, host, self.port,
            )

    async def _bind(self, host: str, port: int) -> int:
        assert self._runner is not None
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError:
            await site.stop()  # unregister the failed site so the runner can try another
            raise
        server = site._server
        assert server is not None
        return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, _request: web.Request) -> web.Response:
        status = self._status()
        # Load balancers stop routing to a draining worker; it is alive but not ready.
        code = 503 if status.get("draining") else 200
        return web.json_response(status, status=code)

    async def _prom(self, _request: web.Request) -> web.Response:
        resp = web.Response(body=self._metrics.render())
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return resp
