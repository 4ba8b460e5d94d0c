"""`callcenter bench soak`: steady calls for a long time with a worker, Redis and Celery killed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from callcenter.cli.common import number_check, seconds_check

console = Console()


def bench_soak(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="3 minutes instead of 30")] = False,
    duration: Annotated[float | None, typer.Option(
        callback=seconds_check(low=20.0, low_open=False, high=86400.0),
        help="Seconds of arrivals (default 1800, or 180 with --quick)")] = None,
    rate: Annotated[float, typer.Option(
        callback=number_check(low=0.0, low_open=True, high=50.0, what="calls per second"),
        help="Calls arriving per second")] = 1.0,
) -> None:
    """Calls at a steady rate; one worker SIGKILL, one Redis restart, one Celery SIGKILL."""
    from callcenter.bench.soak import run_soak, write_json

    seconds = duration if duration is not None else (180.0 if quick else 1800.0)
    result = asyncio.run(run_soak(duration_s=seconds, rate=rate, progress=console.log))
    lat = result["turn_latency_ms"]
    rss = result["worker_rss_mb"]
    console.print(
        f"calls started {result['calls_started']}, completed {result['calls_completed']}, "
        f"lost {result['calls_lost']} (target 0), run twice {result['calls_run_twice']} "
        f"(target 0)\npost-call records missing {result['postcall_records_missing']}, "
        f"duplicated {result['postcall_records_duplicated']} (targets 0)\n"
        f"worker RSS {rss['first']} -> {rss['last']} MB ({rss['growth_mb_per_hour']} MB/h); "
        f"turn latency p50 {lat['p50']} / p99 {lat['p99']} ms over {lat['turns']} turns",
        highlight=False)
    for w in result["turn_latency_p99_ms_by_window"]:
        console.print(f"  from {w['from_s']:>6g} s: p99 {w['p99']} ms ({w['turns']} turns)",
                      highlight=False)
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")
    if not result["ok"]:
        raise typer.Exit(1)
