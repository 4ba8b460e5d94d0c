"""`callcenter worker`: an agent worker process for LiveKit."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from pathlib import Path
from typing import Any

import typer

from callcenter.cli.common import check_redis, number_check, seconds_check
from callcenter.config import get_settings
from callcenter.dispatch.job import JobHandler, RoomConnector
from callcenter.dispatch.metrics import HealthServerError
from callcenter.dispatch.process import WorkerOptions, serve
from callcenter.logs import configure_logging
from callcenter.rooms.livekit_keys import quiet_short_key_warnings, short_secret_notice

log = logging.getLogger("callcenter.worker")
# One worker process per core: one event loop (one GIL) per core carries the calls.
DEFAULT_PROCESSES = max(1, os.cpu_count() or 1)
CORES = float(DEFAULT_PROCESSES)  # the admission's CPU threshold is at most every core


def worker(
    max_calls: int | None = typer.Option(None, min=1, max=2000,
                                         help="Concurrent calls [WORKER_MAX_CALLS]"),
    cpu_threshold: float | None = typer.Option(
        None, callback=number_check(low=0.0, low_open=True, high=CORES, what="cores"),
        help="Refuse new calls above this CPU, in cores [WORKER_CPU_THRESHOLD]"
    ),
    drain_timeout: float | None = typer.Option(
        None, callback=seconds_check(low_open=False, high=86400.0),
        help="Seconds SIGTERM waits for calls to end [WORKER_DRAIN_TIMEOUT_S]"
    ),
    health_host: str = typer.Option("127.0.0.1", help="Address of /healthz and /metrics"),
    health_port: int | None = typer.Option(
        None, min=0, max=65535,
        help="Port of /healthz and /metrics [WORKER_HEALTH_PORT, 8081]. If it is taken "
        "(another worker on this host) a free port is used and logged; 0: always a free one"
    ),
    handler: str | None = typer.Option(
        None, help="Call handler as module:attribute (tests, benches); default: the flow "
        "published for the dialed number"
    ),
    room_connector: str | None = typer.Option(
        None, help="Room connector as module:attribute; default: join the LiveKit room"
    ),
    redis_prefix: str | None = typer.Option(
        None, help="Key prefix in Redis, one per deployment [REDIS_KEY_PREFIX]"
    ),
    processes: int | None = typer.Option(
        None, min=1, max=256,
        help="Worker processes, each its own LiveKit connection and health port "
        "(health port + i), kept by a parent that replaces dead ones and drains all on "
        f"SIGTERM; default: the number of cores ({DEFAULT_PROCESSES} here); 1: this process "
        "is the worker"
    ),
    pool_child: bool = typer.Option(False, "--pool-child", hidden=True),
) -> None:
    """Register with LiveKit as the agent and run calls until SIGTERM (drain) or 2x SIGTERM."""
    s = get_settings()
    configure_logging(s)  # structured, with every configured secret masked
    if not (s.livekit_url and s.livekit_api_key and s.livekit_api_secret):
        raise typer.BadParameter(
            "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be set for a LiveKit "
            "worker; without LiveKit, `callcenter call` runs calls in-process"
        )
    secret = s.livekit_api_secret.get_secret_value()
    # A pool's children leave the notice to the parent: one line, not one per process.
    if (notice := short_secret_notice(secret)) is not None and not pool_child:
        log.warning(notice)
    quiet_short_key_warnings()
    job_handler, connector = _bindings(handler, room_connector)  # bad flags fail here, once
    threshold = cpu_threshold if cpu_threshold is not None else s.worker_cpu_threshold
    if threshold > CORES:
        raise typer.BadParameter(f"{threshold:g} cores is more than this machine has "
                                 f"({CORES:g})", param_hint="--cpu-threshold / "
                                 "WORKER_CPU_THRESHOLD")
    if s.redis_url and not pool_child:  # a pool's parent checked it for its children
        check_redis(s.redis_url)
    n = processes if processes is not None else DEFAULT_PROCESSES
    if n > 1:
        from callcenter.dispatch.pool import PoolOptions, run_pool

        flags = {"--max-calls": max_calls, "--cpu-threshold": cpu_threshold,
                 "--drain-timeout": drain_timeout, "--health-host": health_host,
                 "--handler": handler,
                 "--room-connector": room_connector, "--redis-prefix": redis_prefix}
        child_args = tuple(a for k, v in flags.items() if v is not None for a in (k, str(v)))
        drain = drain_timeout if drain_timeout is not None else s.worker_drain_timeout_s
        port = health_port if health_port is not None else s.worker_health_port
        raise typer.Exit(asyncio.run(run_pool(PoolOptions(
            n, child_args, health_port=port, drain_timeout_s=drain))))
    opts = WorkerOptions(
        livekit_url=s.livekit_url,
        api_key=s.livekit_api_key,
        api_secret=secret,
        agent_name=s.agent_name,
        redis_url=s.redis_url,
        redis_prefix=redis_prefix if redis_prefix is not None else s.redis_key_prefix,
        handler=job_handler,
        room_connector=connector,
        max_calls=max_calls if max_calls is not None else s.worker_max_calls,
        cpu_threshold=cpu_threshold if cpu_threshold is not None else s.worker_cpu_threshold,
        drain_timeout_s=drain_timeout if drain_timeout is not None else s.worker_drain_timeout_s,
        health_host=health_host,
        health_port=health_port if health_port is not None else s.worker_health_port,
    )
    try:
        code = asyncio.run(serve(opts))
    except HealthServerError as exc:  # one line, not a traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def _bindings(handler: str | None, connector: str | None) -> tuple[JobHandler, RoomConnector]:
    """The call handler and room connector: production objects, or the ones named by flags."""
    if handler is None:
        from callcenter.callsession.handler import handle_call

        job_handler: JobHandler = handle_call
    else:
        job_handler = resolve_object(handler, "--handler")
    if connector is None:
        from callcenter.rooms.livekit import connect_livekit_room

        room_connector: RoomConnector = connect_livekit_room
    else:
        room_connector = resolve_object(connector, "--room-connector")
    return job_handler, room_connector


def resolve_object(path: str, option: str) -> Any:
    """Import a callable named `package.module:attribute` once, here at the CLI edge."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise typer.BadParameter(f"{path!r} must look like package.module:attribute",
                                 param_hint=option)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {module_name}: {exc}",
                                 param_hint=option) from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise typer.BadParameter(f"{module_name} has no attribute {attr!r}",
                                 param_hint=option)
    if not callable(obj):
        raise typer.BadParameter(f"{path} is a {type(obj).__name__}, not a callable",
                                 param_hint=option)
    return obj


def bench_dispatch(
    json_path: Path | None = typer.Option(None, "--json", help="Write results as JSON here"),  # noqa: B008
    rate: float = typer.Option(100.0, callback=number_check(low=0.0, low_open=True,
                                                            high=10000.0, what="per second"),
                               help="Call arrivals per second"),
    seconds: float = typer.Option(10.0, callback=seconds_check(high=86400.0),
                                  help="Seconds of arrivals"),
    failover_runs: int = typer.Option(3, min=1, max=100, help="Worker SIGKILLs to time"),
    redis_url: str | None = typer.Option(None, help="Redis for failover; default REDIS_URL"),
) -> None:
    """Dispatch latency (local dispatcher), failover after SIGKILL, and a lossless drain."""
    from rich.console import Console

    from callcenter.bench.dispatch import run_dispatch_bench, write_json

    console = Console()
    url = redis_url or get_settings().redis_url
    if url:
        check_redis(url, "--redis-url" if redis_url else "REDIS_URL")
    result = asyncio.run(
        run_dispatch_bench(
            redis_url=url,
            rate=rate,
            seconds=seconds,
            failover_runs=failover_runs,
            progress=console.log,
        )
    )
    d, f = result["dispatch_ms"], result["failover_s"]
    console.print(f"dispatch_ms p50 {d['p50']} p99 {d['p99']} (target p99 <= 20)")
    if "skipped" in f:
        console.print(f"failover_s skipped: {f['skipped']}")
    else:
        console.print(
            f"failover_s p50 {f['p50']} max {f['max']} context kept {f['context_kept']} "
            "(target max <= 3.0)"
        )
    console.print(f"drain_ok {result['drain_ok']} {result['drain']}")
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")
