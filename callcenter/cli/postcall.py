"""`callcenter postcall ...`: run a post-call Celery worker, process a call, inspect the outbox."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, func, select

from callcenter.cli.common import check_redis, number_check, seconds_check
from callcenter.config import get_settings

app = typer.Typer(
    help="Post-call processing (Celery): worker, process, status.", no_args_is_help=True
)
console = Console()


class Pool(StrEnum):
    PREFORK = "prefork"
    SOLO = "solo"
    THREADS = "threads"


@app.command()
def worker(
    concurrency: int = typer.Option(1, min=1, max=256, help="Processes (prefork) or threads"),
    pool: Annotated[Pool, typer.Option(help="Celery execution pool")] = Pool.PREFORK,
    loglevel: str = typer.Option("INFO", help="DEBUG, INFO, WARNING or ERROR"),
    sweeper: bool = typer.Option(True, help="Re-send outbox entries a lost broker dropped"),
) -> None:
    """Consume post-call tasks from Redis (REDIS_URL). Run one per core; safe to kill."""
    from callcenter.db import engine_for
    from callcenter.logs import configure_logging
    from callcenter.postcall.app import PROCESS_CALL, QUEUE, create_app
    from callcenter.postcall.outbox import Sweeper
    from callcenter.postcall.tasks import send_webhook

    if loglevel.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise typer.BadParameter(f"{loglevel!r}: use DEBUG, INFO, WARNING or ERROR",
                                 param_hint="--loglevel")
    settings = get_settings()
    if not settings.redis_url:
        console.print(
            "[red]error:[/red] REDIS_URL is not set. Without Redis, post-call tasks run in the "
            "embedded worker inside `callcenter dev`; to run separate workers set "
            "REDIS_URL=redis://127.0.0.1:6379/0 for every process.",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    check_redis(settings.redis_url)
    configure_logging(settings)
    celery = create_app(settings)
    celery.set_current()
    celery.set_default()
    sweep = None
    if sweeper:
        sweep = Sweeper(
            engine_for(settings.effective_database_url),
            lambda call_id: celery.send_task(PROCESS_CALL, args=[call_id]),
            lambda call_id: send_webhook(celery, call_id),
            interval_s=settings.postcall_sweep_interval_s,
            stale_after_s=settings.postcall_stale_after_s,
        )
        sweep.start()
    try:
        celery.worker_main(
            [
                "worker",
                f"--concurrency={concurrency}",
                f"--pool={pool.value}",
                f"--loglevel={loglevel.upper()}",
                f"--queues={QUEUE}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    finally:
        if sweep is not None:
            sweep.stop()


@app.command()
def process(
    call_id: str = typer.Argument(..., help="The call's id"),
    reprocess: bool = typer.Option(False, help="Process again even if already done"),
    wait: bool = typer.Option(True, help="Wait until the record is stored"),
    timeout: float = typer.Option(60.0, callback=seconds_check(high=86400.0),
                                  help="Seconds to wait"),
) -> None:
    """Queue post-call processing for one call (idempotent) and wait for the record."""
    from callcenter.db import get_engine
    from callcenter.models import Call, PostcallJob
    from callcenter.postcall import enqueue_process_call
    from callcenter.postcall.inprocess import stop_embedded

    settings = get_settings()
    if settings.redis_url:
        check_redis(settings.redis_url)
    engine = get_engine()
    try:
        queued = enqueue_process_call(call_id, reprocess=reprocess, settings=settings)
    except LookupError as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    if not queued:
        console.print(f"call {call_id} was already processed (use --reprocess to redo it)")
    deadline = time.monotonic() + timeout
    try:
        while wait and queued:
            with Session(engine) as session:
                job = session.get(PostcallJob, call_id)
                status = job.status if job else "missing"
            if status in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        stop_embedded()
    with Session(engine) as session:
        job = session.get(PostcallJob, call_id)
        call = session.get(Call, call_id)
    status = job.status if job else "missing"
    console.print(
        f"call {call_id}: {status}" + (f" ({job.last_error})" if job and job.last_error else "")
    )
    if call is not None and call.processed_at is not None:
        console.print(f"disposition: {call.disposition}\nsummary: {call.summary}")
    if wait and queued and status != "done":
        raise typer.Exit(1)


@app.command()
def status() -> None:
    """Outbox counts by status and dead-lettered CRM webhooks."""
    from callcenter.db import get_engine
    from callcenter.models import PostcallJob, WebhookDelivery

    with Session(get_engine()) as session:
        counts = session.exec(
            select(PostcallJob.status, func.count()).group_by(col(PostcallJob.status))
        ).all()
        dead = session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "dead")
            .order_by(col(WebhookDelivery.updated_at).desc())
            .limit(50)
        ).all()
    console.print("jobs: " + (", ".join(f"{s} {n}" for s, n in counts) or "none"))
    if dead:
        table = Table("call", "url", "attempts", "last error", title="dead CRM webhooks")
        for row in dead:
            table.add_row(row.call_id, row.url, str(row.attempts), row.last_error[:80])
        console.print(table)


def bench_postcall(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 2,
    calls: Annotated[int, typer.Option(min=10, help="Calls in the throughput burst")] = 150,
    load_factor: Annotated[
        float, typer.Option(min=0.05, max=1.0, callback=number_check(low=0.05, high=1.0),
                            help="Arrival rate as a share of throughput")
    ] = 0.5,
    duration: Annotated[float, typer.Option(
        min=2.0, callback=seconds_check(low=2.0, low_open=False, high=86400.0),
        help="Seconds of steady load")] = 20.0,
    redis_url: Annotated[
        str | None, typer.Option(help="Broker; default REDIS_URL (use a DB you can spare)")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Database; default a fresh temporary SQLite file")
    ] = None,
) -> None:
    """Post-call throughput with real Celery workers on Redis, and hang-up-to-stored p95."""
    from callcenter.bench.postcall import TARGET_P95_MS, run_postcall_bench, write_json

    broker = redis_url or get_settings().redis_url
    if not broker:
        console.print(
            "[red]error:[/red] the post-call benchmark runs real Celery workers on Redis: set "
            "REDIS_URL or pass --redis-url redis://127.0.0.1:6379/9",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    check_redis(broker, "--redis-url" if redis_url else "REDIS_URL")
    result = run_postcall_bench(
        redis_url=broker,
        database_url=database_url,
        workers=workers,
        calls=calls,
        load_factor=load_factor,
        duration_s=duration,
        progress=console.log,
    )
    e2s = result["end_to_stored_ms"]
    table = Table(title=f"callcenter bench postcall ({workers} workers, {result['database']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("throughput (calls/s)", f"{result['throughput_calls_per_s']:g}", "")
    table.add_row(
        f"hang-up to stored p50 / p95 (ms) at {result['load']['rate_calls_per_s']:g} calls/s",
        f"{e2s['p50']} / {e2s['p95']}",
        f"p95 <= {TARGET_P95_MS:g}",
    )
    console.print(table)
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")
