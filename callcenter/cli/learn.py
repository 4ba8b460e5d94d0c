"""`callcenter learn list|show|accept|reject`: the suggestion review queue in the terminal.

The same functions as the admin's /suggestions page (`callcenter.learning.review`): accepting
writes a new draft version of the flow, never the published one; every decision is audited
as `cli:<os user>`.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from callcenter.cli.common import db_session, fail

app = typer.Typer(help="Review what the agent learnt from escalated calls.",
                  no_args_is_help=True)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"





@app.command("list")
def list_(
    flow: Annotated[str | None, typer.Option(help="Only this flow")] = None,
    status: Annotated[str, typer.Option(help="pending, accepted, rejected or all")] = "pending",
) -> None:
    """Suggestions, newest first, with the per-flow counts."""
    from callcenter.learning import review

    if status not in ("pending", "accepted", "rejected", "all"):
        raise typer.BadParameter(f"{status!r}: use pending, accepted, rejected or all",
                                 param_hint="--status")
    with db_session() as s:
        rows = review.suggestions(s, flow=flow, status=None if status == "all" else status)
        table = Table("id", "flow", "kind", "target", "suggestion", "calls", "status")
        for r in rows:
            table.add_row(str(r.id), escape(r.flow), r.kind, escape(r.target),
                          escape(_gist(r.payload)), str(len(r.evidence)), r.status)
        console.print(table if rows else "[dim]no suggestions[/dim]")
        for f in review.per_flow(s):
            console.print(f"{escape(f.flow)}: {f.pending} pending, {f.accepted} accepted "
                          f"(would have avoided {f.avoidable} escalations), "
                          f"{f.rejected} rejected")


def _gist(payload: dict[str, object]) -> str:
    for key in ("phrases", "q", "name"):
        value = payload.get(key)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)[:80]
        if value:
            return str(value)[:80]
    return json.dumps(payload)[:80]


@app.command()
def show(suggestion_id: Annotated[int, typer.Argument(help="Suggestion id")]) -> None:
    """One suggestion: what it changes, the evidence, and the flow with it applied."""
    from callcenter.flowstore import FlowStoreError
    from callcenter.learning import review

    with db_session() as s:
        try:
            row = review.get(s, suggestion_id)
            preview = review.preview(s, row) if row.status == "pending" else None
        except FlowStoreError as exc:
            raise fail(str(exc)) from None
        console.print(f"[bold]suggestion {row.id}[/bold] · {escape(row.flow)} · {row.kind} "
                      f"→ {escape(row.target)} · {row.status}")
        console.print(escape(json.dumps(row.payload, indent=2, ensure_ascii=False)))
        for item in row.evidence:
            console.print(f"[dim]call {escape(str(item.get('call_id')))}[/dim]")
            for line in item.get("lines", []):
                console.print(f"  {escape(str(line.get('speaker')))}: "
                              f"{escape(str(line.get('text')))}")
        if row.reject_reason:
            console.print(f"rejected: {escape(row.reject_reason)}")
        if preview is not None:
            console.print("[bold]flow with this suggestion applied:[/bold]")
            console.print(escape(preview))


@app.command()
def accept(suggestion_id: Annotated[int, typer.Argument(help="Suggestion id")]) -> None:
    """Write the suggestion into a new DRAFT version of its flow (publish it to go live)."""
    from callcenter.flowstore import FlowStoreError
    from callcenter.learning import review

    with db_session() as s:
        try:
            version = review.accept(s, suggestion_id, _actor())
            flow = review.get(s, suggestion_id).flow
        except FlowStoreError as exc:
            raise fail(str(exc)) from None
    console.print(f"draft v{version} of {escape(flow)} created; publish it with "
                  f"`callcenter flows publish` or in the admin to make it live")


@app.command()
def reject(
    suggestion_id: Annotated[int, typer.Argument(help="Suggestion id")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept for the next reviewer)")],
) -> None:
    """Reject a suggestion, with a reason."""
    from callcenter.flowstore import FlowStoreError
    from callcenter.learning import review

    with db_session() as s:
        try:
            review.reject(s, suggestion_id, _actor(), reason)
        except FlowStoreError as exc:
            raise fail(str(exc)) from None
    console.print(f"suggestion {suggestion_id} rejected")
