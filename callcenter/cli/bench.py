"""`callcenter bench ...`: measure the voice engine on this machine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Benchmarks: latency, barge-in and calls per process.", no_args_is_help=True)
console = Console()


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float | int) else str(v)


def _verdict(value: Any, target: float, *, higher_is_better: bool = False) -> str:
    if value is None:
        return "[yellow]n/a[/]"
    ok = value >= target if higher_is_better else value <= target
    return "[green]ok[/]" if ok else "[red]miss[/]"


def render(result: dict[str, Any]) -> Table:
    """The summary table (also what the README shows)."""
    t = Table(title=f"callcenter bench voice ({result.get('mode')})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_column("")
    off = result.get("offline_e2e_ms")
    if "turn_overhead_ms" in result:  # phases left out (`--phases`) have no rows
        to, bi = result["turn_overhead_ms"], result["barge_in_ms"]
        t.add_row("turn overhead p50 / p99 (ms)", f"{_fmt(to['p50'])} / {_fmt(to['p99'])}",
                  "p99 <= 10", _verdict(to["p99"], 10))
        t.add_row("  turns measured", _fmt(to["turns"]), ">= 200",
                  _verdict(to["turns"], 200, higher_is_better=True))
        t.add_row("barge-in p50 / p99 (ms)", f"{_fmt(bi['p50'])} / {_fmt(bi['p99'])}",
                  "p99 <= 40", _verdict(bi["p99"], 40))
    if (dens := result.get("density")) is not None:
        for n, step in dens["steps"].items():
            t.add_row(
                f"  {n} calls: late % / CPU % / RSS MB / overhead p99",
                f"{_fmt(step['late_frame_pct'])} / {_fmt(step['cpu_pct'])} / "
                f"{_fmt(step['rss_mb'])} / {_fmt(step['turn_overhead_p99_ms'])}",
                "< 0.5 / - / - / < 20", "",
            )
        t.add_row("density max calls (one process)", _fmt(dens["max_calls"]), ">= 100",
                  _verdict(dens["max_calls"], 100, higher_is_better=True))
    for mode in ("livekit", "sip"):
        media = result.get(f"density_{mode}")
        if media is not None:
            _media_density_rows(t, mode, media)
    _mix_and_cores_rows(t, result)
    if off is None:
        pass
    elif "skipped" in off:
        t.add_row("offline e2e", off["skipped"], "p50 <= 1300", "[yellow]n/a[/]")
    else:
        t.add_row("offline e2e p50 / p95 (ms)", f"{_fmt(off.get('p50'))} / {_fmt(off.get('p95'))}",
                  "p50 <= 1300", _verdict(off.get("p50"), 1300))
    return t


def _media_density_rows(t: Table, mode: str, dens: dict[str, Any]) -> None:
    """The rows of a density phase run through a real media path (`--room`)."""
    for n, step in dens["steps"].items():
        t.add_row(
            f"  {mode}, {n} calls: late % / CPU % / RSS MB per call / overhead p99 "
            "beyond the path",
            f"{_fmt(step['late_frame_pct'])} / {_fmt(step['cpu_pct'])} / "
            f"{_fmt(step['rss_per_call_mb'])} / {_fmt(step.get('added_overhead_p99_ms'))}",
            "< 0.5 / - / <= 3 / < 20", "",
        )
    t.add_row(f"  {mode} path's own delay per turn (ms)", _fmt(dens.get("path_ms")), "", "")
    t.add_row(f"density max calls through {mode} (one process)", _fmt(dens["max_calls"]),
              ">= 150", _verdict(dens["max_calls"], 150, higher_is_better=True))


def _mix_and_cores_rows(t: Table, result: dict[str, Any]) -> None:
    """The escalated mix (one process) and every core at once (`--processes`)."""
    if (esc := result.get("density_escalated")) is not None:
        for n, step in esc["steps"].items():
            t.add_row(f"  escalated {esc['escalated_pct']:g} %, {n} calls: late % / CPU % / "
                      "overhead p99 / supervisor lines heard",
                      f"{_fmt(step['late_frame_pct'])} / {_fmt(step['cpu_pct'])} / "
                      f"{_fmt(step['turn_overhead_p99_ms'])} / "
                      f"{_fmt(step.get('supervisor_lines_transcribed'))}",
                      "< 0.5 / - / < 20 / -", "")
        t.add_row(f"density max calls, {esc['escalated_pct']:g} % escalated (one process)",
                  _fmt(esc["max_calls"]), ">= 100",
                  _verdict(esc["max_calls"], 100, higher_is_better=True))
    for key, dens in result.items():
        if not (key.startswith("density_") and key.endswith("all_cores")):
            continue
        room, k = dens["room"], dens["processes"]
        for n, step in dens["steps"].items():
            p99 = step.get("added_overhead_p99_ms", step["turn_overhead_p99_ms"])
            t.add_row(f"  {room}, {k} processes, {n} calls: worst late % / CPU % (all) / "
                      "worst overhead p99", f"{_fmt(step['late_frame_pct'])} / "
                      f"{_fmt(step['cpu_pct'])} / {_fmt(p99)}", "< 0.5 / - / < 20", "")
        t.add_row(f"density max calls, all cores ({k} processes, {room})",
                  _fmt(dens["max_calls"]), ">= 300",
                  _verdict(dens["max_calls"], 300, higher_is_better=True))


@app.command("voice")
def voice(
    quick: Annotated[bool, typer.Option("--quick", help="Short run (under a minute)")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file")
    ] = None,
    room: Annotated[str, typer.Option(
        "--room", help="Also run density through this media path: local (only the "
        "in-process room), livekit (livekit.rtc sources, tracks, streams), sip (RTP/G.711 "
        "over UDP)")] = "local",
    escalated_pct: Annotated[float, typer.Option(
        "--escalated-pct", min=0, max=100, help="Also run density with this share of calls "
        "escalated: a supervisor talks with the caller, the AI transcribes both and stays "
        "quiet (density_escalated); 0: skip")] = 20.0,
    processes: Annotated[int | None, typer.Option(
        "--processes", min=1, max=256, help="Density processes for the all-cores phase "
        "(density_all_cores), started together and measured over the same window; 1: skip; "
        "default: one per core")] = None,
    phases: Annotated[str | None, typer.Option(
        "--phases", help="Only these phases, comma-separated: overhead, density, media "
        "(the --room block), escalated, all_cores, offline, prompts; default: all")] = None,
    steps: Annotated[str | None, typer.Option(
        "--steps", help="One-process density steps (calls), comma-separated, e.g. 10,30; "
        "a --room path then runs only these (not its 150 target step)")] = None,
) -> None:
    """Turn overhead, barge-in latency, calls per process and the offline stack's latency."""
    from callcenter.bench.rooms import check_room_mode
    from callcenter.bench.voice import PHASES, check_phases, run_voice_bench, write_json

    try:
        room_mode = check_room_mode(room)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--room") from None
    try:
        run = check_phases([x.strip() for x in phases.split(",") if x.strip()]
                           if phases is not None else PHASES)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--phases") from None
    density_steps: tuple[int, ...] | None = None
    if steps is not None:
        try:
            density_steps = tuple(int(x) for x in steps.split(",") if x.strip())
        except ValueError:
            density_steps = ()
        if not density_steps or min(density_steps) < 1:
            raise typer.BadParameter(f"{steps!r}: give call counts of at least 1, "
                                     "comma-separated (e.g. 10,30)", param_hint="--steps")

    def progress(msg: str) -> None:
        console.log(msg)

    from callcenter.bench.voice_cores import default_processes

    result = asyncio.run(run_voice_bench(
        quick=quick, progress=progress, room=room_mode, escalated_pct=escalated_pct,
        processes=processes if processes is not None else default_processes(),
        phases=run, density_steps=density_steps))
    console.print(render(result))
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")


@app.command("quality")
def quality(
    quick: Annotated[bool, typer.Option("--quick", help="A third of the lines (minutes)")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file")
    ] = None,
    baseline: Annotated[
        str, typer.Option(help="Commit whose code runs the same lines too ('none': skip)")
    ] = "default",
) -> None:
    """Understanding on phone audio: menus, people, yes/no, digits, dates, times."""
    from callcenter.bench.quality import (
        BASELINE_REF,
        BaselineError,
        run_quality_bench,
        write_json,
    )
    from callcenter.bench.quality_report import quality_table

    ref = BASELINE_REF if baseline == "default" else None if baseline == "none" else baseline
    try:
        result = run_quality_bench(quick=quick, progress=console.log, baseline=ref)
    except BaselineError as exc:
        if exc.partial is not None and json_path is not None:
            write_json(exc.partial, json_path)  # this code's figures, without the baseline
            console.print(f"wrote {json_path} (no baseline)")
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(quality_table(result))
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")


from callcenter.cli.postcall import bench_postcall as _bench_postcall  # noqa: E402

app.command("postcall")(_bench_postcall)

from callcenter.cli.worker import bench_dispatch as _bench_dispatch  # noqa: E402

app.command("dispatch")(_bench_dispatch)

from callcenter.bench.sip_cli import bench_sip as _bench_sip  # noqa: E402

app.command("sip")(_bench_sip)


@app.command("escalation")
def escalation(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file")
    ] = None,
    calls: Annotated[int, typer.Option(min=1, help="Concurrent escalations per burst")] = 100,
    rounds: Annotated[int, typer.Option(min=1, help="Bursts to time")] = 5,
    redis_url: Annotated[
        str | None, typer.Option("--redis", help="Redis to bench too; default REDIS_URL")
    ] = None,
    call_side: Annotated[
        int, typer.Option(min=1, help="Calls taken and handed back (connect_ms, handback_ms)")
    ] = 30,
) -> None:
    """Offer latency and double takes (both brokers); connect and hand-back on live calls."""
    from callcenter.bench.escalation import run_escalation_bench, write_json
    from callcenter.config import get_settings

    url = redis_url or get_settings().redis_url
    result = asyncio.run(
        run_escalation_bench(redis_url=url, calls=calls, rounds=rounds, progress=console.log,
                             call_side_calls=call_side)
    )
    t = Table(title="callcenter bench escalation")
    for col in ("broker", "offer_ms p50 / p99", "double takes", "no winner"):
        t.add_column(col)
    for name in ("in_process", "redis"):
        r = result[name]
        if "skipped" in r:
            t.add_row(name, r["skipped"], "-", "-")
            continue
        o = r["offer_ms"]
        t.add_row(name, f"{_fmt(o['p50'])} / {_fmt(o['p99'])}  {_verdict(o['p99'], 50)}",
                  f"{r['double_takes']} {_verdict(r['double_takes'], 0)}", str(r["no_winner"]))
    console.print(t)
    for name, target in (("connect_ms", 200), ("ai_quiet_ms", 200), ("handback_ms", 500)):
        c = result["call_side"][name]
        console.print(f"{name} p50 {_fmt(c['p50'])} / p99 {_fmt(c['p99'])} "
                      f"(target p99 <= {target}) {_verdict(c['p99'], target)}")
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")


@app.command("admin")
def admin(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file")
    ] = None,
    calls: Annotated[int, typer.Option(min=100, help="Stored calls to seed")] = 100_000,
    days: Annotated[int, typer.Option(min=1, help="Days the calls are spread over")] = 30,
    rounds: Annotated[int, typer.Option(min=1, help="Timed runs per query and filter")] = 40,
    pg_admin_url: Annotated[
        str, typer.Option(help="PostgreSQL to create the bench database in (dropped after)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
) -> None:
    """Calls list (every filter), call page and node traffic on 100,000 stored calls."""
    import sqlalchemy as sa

    from callcenter.bench.admin import TARGETS_MS, run_admin_bench, write_json

    try:
        result = run_admin_bench(calls=calls, days=days, rounds=rounds,
                                 pg_admin_url=pg_admin_url, progress=console.log)
    except sa.exc.OperationalError as exc:
        console.print(f"[red]error:[/red] cannot reach PostgreSQL at {pg_admin_url}: "
                      f"{str(exc.orig).splitlines()[0]}. Start it, or pass --pg-admin-url "
                      "postgresql+psycopg://USER@HOST:PORT/postgres", soft_wrap=True)
        raise typer.Exit(2) from None
    t = Table(title=f"callcenter bench admin ({calls:,} calls over {days} days, PostgreSQL)")
    for col in ("query", "p50 ms", "p95 ms", "p99 ms", "target p95", ""):
        t.add_column(col)
    for key, name, target in (("calls_list_ms", "calls list (all filters)", "calls_list_p95"),
                              ("call_page_ms", "call page", "call_page_p95"),
                              ("node_traffic_day_ms", "node traffic, one day",
                               "node_traffic_day_p95")):
        r = result[key]
        t.add_row(name, _fmt(r["p50"]), _fmt(r["p95"]), _fmt(r["p99"]),
                  _fmt(TARGETS_MS[target]), _verdict(r["p95"], TARGETS_MS[target]))
    for name, r in result["calls_list_ms"]["by_filter"].items():
        t.add_row(f"  list: {name}", _fmt(r["p50"]), _fmt(r["p95"]), _fmt(r["p99"]), "", "")
    console.print(t)
    console.print(f"seeded in {result['seed_s']} s: {result['rows']}")
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")

from callcenter.cli.soak import bench_soak as _bench_soak  # noqa: E402

app.command("soak")(_bench_soak)

from callcenter.cli.bench_latency import bench_latency as _bench_latency  # noqa: E402

app.command("latency")(_bench_latency)
