"""`callcenter bench latency`: per-stage turn latency in the example flows' offline calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:g}"


def render(result: dict[str, Any]) -> Table:
    """One row per stage and flow: p50 / p99 (ms)."""
    t = Table(title=f"callcenter bench latency ({result['rounds']} round(s), "
                    f"tts cache {'on' if result['tts_cache'] else 'off'}, "
                    f"early stt {'on' if result['early_stt'] else 'off'})")
    t.add_column("stage (ms)")
    names = ["all", *result["flows"]]
    for name in names:
        t.add_column(f"{name} p50 / p99", justify="right")
    blocks = {"all": result["all"], **result["flows"]}
    for stage in result["all"]["stages_ms"]:
        t.add_row(stage, *(f"{_fmt(blocks[n]['stages_ms'][stage]['p50'])} / "
                           f"{_fmt(blocks[n]['stages_ms'][stage]['p99'])}" for n in names))
    for key, label in (("static_prompt_ready_ms", "static prompt first audio"),
                       ("dynamic_prompt_ready_ms", "other speech first audio")):
        t.add_row(label, *(f"{_fmt(blocks[n][key]['p50'])} / {_fmt(blocks[n][key]['p99'])}"
                           for n in names))
    t.add_row("turns", *(str(blocks[n]["turns"]) for n in names))
    return t


def bench_latency(
    rounds: Annotated[int, typer.Option(min=1, help="Calls of each example flow")] = 1,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results here")
                         ] = None,
    tts_cache: Annotated[bool, typer.Option(help="Replay static prompts from the cache")
                         ] = True,
    early_stt: Annotated[bool, typer.Option(help="Decode the speech so far as soon as it "
                                                 "goes quiet (before the VAD's end)")] = True,
    compare_early: Annotated[bool, typer.Option(
        "--compare-early", help="Run every call without early STT too, side by side")
    ] = False,
    root: Annotated[Path, typer.Option(help="Repository root (holds flows/)",
                                       file_okay=False)] = Path("."),
) -> None:
    """Offline turn latency of the three example flows' calls, stage by stage."""
    from callcenter.bench.latency import run_latency_bench, write_json

    try:
        result = asyncio.run(run_latency_bench(
            root, rounds=rounds, tts_cache=tts_cache, early_stt=early_stt,
            compare_early=compare_early, progress=console.log))
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--root") from None
    console.print(render(result))
    if "early_stt_off" in result:
        console.print(render({**result, **result["early_stt_off"], "early_stt": False}))
    targets = result["targets"]
    console.print(f"e2e p50 <= {targets['e2e_p50_ms']:g} ms: "
                  f"{'ok' if targets['e2e_p50_ok'] else 'miss'};  static prompt first audio "
                  f"p50 <= {targets['static_prompt_ready_p50_ms']:g} ms: "
                  f"{'ok' if targets['static_prompt_ready_ok'] else 'miss'}")
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}")
