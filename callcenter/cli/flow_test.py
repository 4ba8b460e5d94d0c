"""`callcenter flows test FILE`: play a flow's scenario files by text and judge each one.

The scenarios of `flows/my_flow.yaml` are `flows/scenarios/my_flow/*.yaml` (or `--scenarios
DIR/my_flow/`), the same files the admin's "Run scenarios" button plays; the format is in
callcenter/scenarios/format.py. Exit status 1 if any scenario does not pass (for CI).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)


def _report_json(report: Any) -> dict[str, Any]:
    return {"flow": report.flow, "passed": report.passed, "scenarios": [
        {"name": e.name, "status": e.status,
         "problems": [p.format() for p in e.problems],
         "checks": [{"what": c.what, "expected": c.expected, "actual": c.actual, "ok": c.ok}
                    for c in (e.result.checks if e.result else [])],
         "outcome": e.result.outcome if e.result else None,
         "error": e.result.error if e.result else None} for e in report.entries]}


def test(
    flow_file: Annotated[Path, typer.Argument(help="Flow YAML file", exists=True,
                                              dir_okay=False)],
    scenarios: Annotated[Path | None, typer.Option(
        help="Scenarios folder holding <flow name>/*.yaml (default: scenarios/ beside the "
             "flow file)", file_okay=False)] = None,
    keyword_intents: Annotated[bool, typer.Option(
        help="Use keyword matching instead of the MiniLM classifier")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here")] = None,
) -> None:
    """Play the flow's scenarios (scripted text callers) and check outcome, slots and nodes."""
    from callcenter.callsession.effects import IntentService
    from callcenter.cli.chat import _llm
    from callcenter.cli.flows import print_problems
    from callcenter.flow.validate import check_flow_text
    from callcenter.scenarios.files import load_scenarios
    from callcenter.scenarios.suite import run_suite
    from callcenter.scenarios.webhooks import canned_transport

    flow, problems = check_flow_text(flow_file.read_text(encoding="utf-8"), str(flow_file))
    if flow is None:
        print_problems(problems)
        raise typer.Exit(1)
    root = scenarios if scenarios is not None else flow_file.parent / "scenarios"
    files = load_scenarios(root, flow.name)
    if not files:
        console.print(f"[red]error:[/red] no scenarios for {escape(flow.name)}: put them in "
                      f"{escape(str(root / flow.name))}/*.yaml")
        raise typer.Exit(2)
    report = asyncio.run(run_suite(flow, files, transport=lambda: canned_transport(
        root, flow.name), intents=IntentService(prefer_minilm=not keyword_intents),
        llm=_llm()))
    for e in report.entries:
        colour = "green" if e.status == "passed" else "red"
        console.print(f"[{colour}]{e.status:>7}[/{colour}] {escape(e.name)}"
                      + (f" [dim]({escape(e.description)})[/dim]" if e.description else ""))
        for p in e.problems:
            hint = f" [dim]({escape(p.hint)})[/dim]" if p.hint else ""
            console.print(f"         [bold]{escape(p.file)}:{p.line}:{p.column}[/bold]: "
                          f"{escape(p.message)}{hint}", soft_wrap=True)
        if e.result is not None and e.result.error:
            console.print(f"         {escape(e.result.error)}")
        for c in (e.result.checks if e.result else []):
            if not c.ok:
                console.print(f"         {escape(c.what)}: expected "
                              f"{escape(json.dumps(c.expected, default=str))}, got "
                              f"{escape(json.dumps(c.actual, default=str))}")
    counts = ", ".join(f"{report.count(s)} {s}" for s in ("passed", "failed", "error",
                                                          "invalid") if report.count(s))
    console.print(f"[bold]{escape(flow.name)}:[/bold] {counts}")
    if json_out is not None:
        json_out.write_text(json.dumps(_report_json(report), indent=2, default=str),
                            encoding="utf-8")
    if not report.passed:
        raise typer.Exit(1)
