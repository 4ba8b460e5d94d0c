"""`callcenter worker`: an agent worker process for LiveKit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from callcenter.config import get_settings
from callcenter.dispatch.process import WorkerOptions, serve
from callcenter.logs import configure_logging

# The production handler: the flow published for the dialed number, run by a CallSession.
DEFAULT_HANDLER = "callcenter.callsession.job:handle_call"
DEFAULT_CONNECTOR = "callcenter.rooms.livekit:connect_livekit_room"


def worker(
    max_calls: int | None = typer.Option(None, help="Concurrent calls [WORKER_MAX_CALLS]"),
    cpu_threshold: float | None = typer.Option(
        None, help="Refuse new calls above this CPU, in cores [WORKER_CPU_THRESHOLD]"
    ),
    drain_timeout: float | None = typer.Option(
        None, help="Seconds SIGTERM waits for calls to end [WORKER_DRAIN_TIMEOUT_S]"
    ),
    health_host: str = typer.Option("127.0.0.1", help="Address of /healthz and /metrics"),
    health_port: int | None = typer.Option(
        None, help="Port of /healthz and /metrics, 0: any [WORKER_HEALTH_PORT]"
    ),
    handler: str = typer.Option(DEFAULT_HANDLER, help="Call handler, module:attribute"),
    room_connector: str = typer.Option(DEFAULT_CONNECTOR, help="Room connector, module:attr"),
    redis_prefix: str | None = typer.Option(
        None, help="Key prefix in Redis, one per deployment [REDIS_KEY_PREFIX]"
    ),
) -> None:
    """Register with LiveKit as the agent and run calls until SIGTERM (drain) or 2x SIGTERM."""
    s = get_settings()
    configure_logging(s)  # structured, with every configured secret masked
    if not (s.livekit_url and s.livekit_api_key and s.livekit_api_secret):
        raise typer.BadParameter(
            "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be set for a LiveKit "
            "worker; without LiveKit, `callcenter call` runs calls in-process"
        )
    opts = WorkerOptions(
        livekit_url=s.livekit_url,
        api_key=s.livekit_api_key,
        api_secret=s.livekit_api_secret.get_secret_value(),
        agent_name=s.agent_name,
        redis_url=s.redis_url,
        redis_prefix=redis_prefix if redis_prefix is not None else s.redis_key_prefix,
        handler=handler,
        room_connector=room_connector,
        max_calls=max_calls if max_calls is not None else s.worker_max_calls,
        cpu_threshold=cpu_threshold if cpu_threshold is not None else s.worker_cpu_threshold,
        drain_timeout_s=drain_timeout if drain_timeout is not None else s.worker_drain_timeout_s,
        health_host=health_host,
        health_port=health_port if health_port is not None else s.worker_health_port,
    )
    raise typer.Exit(asyncio.run(serve(opts)))


def bench_dispatch(
    json_path: Path | None = typer.Option(None, "--json", help="Write results as JSON here"),  # noqa: B008
    rate: float = typer.Option(100.0, help="Call arrivals per second"),
    seconds: float = typer.Option(10.0, help="Seconds of arrivals"),
    failover_runs: int = typer.Option(3, min=1, help="Worker SIGKILLs to time"),
    redis_url: str | None = typer.Option(None, help="Redis for failover; default REDIS_URL"),
) -> None:
    """Dispatch latency (local dispatcher), failover after SIGKILL, and a lossless drain."""
    from rich.console import Console

    from callcenter.bench.dispatch import run_dispatch_bench, write_json

    console = Console()
    url = redis_url or get_settings().redis_url
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
