"""The `callcenter bench sip` command: options, the summary table, the JSON file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def sip_table(result: dict[str, Any]) -> Table:
    t = Table(title=f"callcenter bench sip (sipp into callcenter dev, {result['cpus']} cores, "
                    f"load {result['load_avg_1m_at_start']} at start)")
    for column in ("calls", "right", "late/lost %", "turn p50 / p95 ms", "CPU %", "RSS MB",
                   "load", "what went wrong"):
        t.add_column(column)
    for n, s in result["steps"].items():
        ok = "[green]" if s["right"] == s["calls"] else "[red]"
        late = s["late_frame_pct"]
        t.add_row(
            n, f"{ok}{s['right']}/{s['calls']}[/]",
            f"{'[green]' if late < result['late_limit_pct'] else '[red]'}{late}[/]"
            f" (rx {s['rx_late_or_lost_pct']}, tx {s['tx_late_tick_pct']})",
            f"{s['turn_ms']['p50']} / {s['turn_ms']['p95']}", str(s["cpu_pct"]),
            str(s.get("rss_mb")), str(s["load_avg_1m"]),
            "; ".join(f"{k} ×{v}" for k, v in list(s["problems"].items())[:3]) or "-",
        )
    return t


def bench_sip(
    quick: Annotated[bool, typer.Option("--quick", help="One step of 3 calls (minutes)")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file")
    ] = None,
    start: Annotated[int, typer.Option(min=1, help="Calls at once in the first step")] = 10,
    step: Annotated[int, typer.Option(min=1, help="Calls added per step")] = 10,
    limit: Annotated[int, typer.Option(min=1, help="Stop after this many calls at once")] = 200,
) -> None:
    """Concurrent sipp calls (speech + RFC 2833 keys) into `callcenter dev`, until failure."""
    from callcenter.bench.sip import run_sip_bench, write_json
    from callcenter.bench.sip_caller import SipBenchError

    try:
        result = asyncio.run(run_sip_bench(quick=quick, start=start, step=step, limit=limit,
                                           progress=console.log))
    except SipBenchError as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(sip_table(result))
    console.print(f"max_calls (every call right, late < {result['late_limit_pct']} %): "
                  f"[bold]{result['max_calls']}[/bold]")
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")
