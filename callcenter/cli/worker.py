"""`callcenter worker`: an agent worker process for LiveKit."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer

from callcenter.config import get_settings
from callcenter.dispatch.process import WorkerOptions, serve

# The production handler: the flow published for the dialed number, run by a CallSession.
DEFAULT_HANDLER = "callcenter.callsession.job:handle_call"
DEFAULT_CONNECTOR = "callcenter.rooms.livekit:connect_livekit_room"


def worker(
    max_calls: int = typer.Option(20, help="Concurrent calls this process takes"),
    cpu_threshold: float = typer.Option(0.85, help="Refuse new calls above this CPU (cores)"),
    drain_timeout: float = typer.Option(300.0, help="Seconds SIGTERM waits for calls to end"),
    health_host: str = typer.Option("127.0.0.1", help="Address of /healthz and /metrics"),
    health_port: int = typer.Option(8081, help="Port of /healthz and /metrics (0: any)"),
    handler: str = typer.Option(DEFAULT_HANDLER, help="Call handler, module:attribute"),
    room_connector: str = typer.Option(DEFAULT_CONNECTOR, help="Room connector, module:attr"),
    redis_prefix: str = typer.Option("cc:", help="Key prefix in Redis (one per deployment)"),
) -> None:
    """Register with LiveKit as the agent and run calls until SIGTERM (drain) or 2x SIGTERM."""
    s = get_settings()
    logging.basicConfig(level=s.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
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
        redis_prefix=redis_prefix,
        handler=handler,
        room_connector=room_connector,
        max_calls=max_calls,
        cpu_threshold=cpu_threshold,
        drain_timeout_s=drain_timeout,
        health_host=health_host,
        health_port=health_port,
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
