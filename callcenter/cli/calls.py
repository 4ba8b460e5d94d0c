"""`callcenter calls list|show`: stored calls in the terminal, the same queries as the admin.

`show` prints the redacted transcript unless `--raw` is given (the raw one exists only when
KEEP_RAW_TRANSCRIPT kept it); whoever can run this command can read the database anyway.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from callcenter.cli.common import db_session, fail
from callcenter.records.call_detail import CallDetail, TranscriptEntry
from callcenter.records.calls import CallFilters, CallRow

app = typer.Typer(help="Stored calls: list with filters, show one call.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
_SPAN = re.compile(r"^(\d+)([mhd])$")





def _when(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use ISO 8601, e.g. 2026-05-01T09:30 (UTC)",
                                 param_hint=f"--{name}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _last(text: str | None) -> datetime | None:
    if not text:
        return None
    match = _SPAN.match(text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r}: a number and m, h or d, e.g. 30m, 24h, 7d",
                                 param_hint="--last")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    try:
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    except (OverflowError, ValueError):  # before year 1
        raise typer.BadParameter(f"{text!r} reaches back before year 1; use a shorter span",
                                 param_hint="--last") from None


def _duration(row: CallRow) -> str:
    if row.duration_s is None:
        return "live"
    minutes, seconds = divmod(int(row.duration_s), 60)
    return f"{minutes}:{seconds:02d}"


@app.command("list")
def list_(
    last: Annotated[str | None, typer.Option(help="Started in the last 30m, 24h, 7d, ...")] = None,
    since: Annotated[str | None, typer.Option(help="Started at or after (ISO 8601, UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Started before (ISO 8601, UTC)")] = None,
    dialed: Annotated[str | None, typer.Option(help="Dialed number prefix")] = None,
    caller: Annotated[str | None, typer.Option(help="Caller number prefix")] = None,
    status: Annotated[str | None, typer.Option(help="ringing, active, escalated, ended, failed")]
    = None,
    disposition: Annotated[str | None, typer.Option(
        help="resolved, escalated, transferred, abandoned, failed")] = None,
    escalated: Annotated[bool | None, typer.Option(
        "--escalated/--not-escalated", help="Only calls with (or without) an escalation")] = None,
    flow: Annotated[str | None, typer.Option(help="Flow name")] = None,
    version: Annotated[int | None, typer.Option(help="Version of --flow")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """Stored calls, newest first, one page at a time (the admin's filters)."""
    from callcenter.records.calls import list_calls

    if version is not None and not flow:
        raise typer.BadParameter("needs --flow as well", param_hint="--version")
    filters = CallFilters(since=_last(last) or _when(since, "since"), until=_when(until, "until"),
                          dialed=dialed, caller=caller, status=status, disposition=disposition,
                          escalated=escalated, flow=flow, version=version)
    with db_session() as db:
        result = list_calls(db, filters, page=page, per_page=per_page)
    table = Table(title=f"{result.total}{'+' if result.more else ''} call(s), "
                        f"page {result.page} of {result.pages}{'+' if result.more else ''}",
                  title_justify="left")
    for name in ("started (UTC)", "id", "caller", "dialed", "flow", "status", "disposition",
                 "duration"):
        table.add_column(name, justify="right" if name == "duration" else "left")
    for r in result.rows:
        flow_cell = f"{r.flow} v{r.flow_version}" if r.flow else "-"
        status_cell = r.status + (" [yellow](escalated)[/yellow]" if r.escalated else "")
        table.add_row(r.started_at.strftime("%Y-%m-%d %H:%M:%S"), r.id, escape(r.caller_number),
                      escape(r.dialed_number), escape(flow_cell), status_cell,
                      r.disposition or "-", _duration(r))
    console.print(table)


def _clock(ms: int) -> str:
    return f"{ms // 60000:02d}:{(ms % 60000) // 1000:02d}"


_COLOURS = {"caller": "cyan", "agent": "magenta", "supervisor": "yellow"}


def _line(e: TranscriptEntry) -> str:
    who = f"[{_COLOURS.get(e.speaker, 'white')}]{e.speaker:>10}[/]"
    if e.kind == "keypad":
        return f"{_clock(e.start_ms)} {who}  [dim]pressed[/dim] {escape(e.text)}"
    text = escape(e.text)
    if e.interrupted:
        text += " [red](interrupted)[/red]"
        if e.planned:
            text += f"\n{'':17}[dim]planned: {escape(e.planned)}[/dim]"
    return f"{_clock(e.start_ms)} {who}  {text}"


def print_call(d: CallDetail) -> None:
    r = d.row
    flow = f"{r.flow} v{r.flow_version}" if r.flow else "no flow"
    console.print(f"[bold]{escape(r.caller_number or 'unknown')} -> "
                  f"{escape(r.dialed_number or 'unknown')}[/bold]  {r.id}", highlight=False)
    console.print(f"{r.started_at:%Y-%m-%d %H:%M:%S} UTC, {_duration(r)}, {escape(flow)}, "
                  f"status {r.status}, disposition {r.disposition or 'pending'}"
                  + (f", sentiment {r.sentiment:.2f}" if r.sentiment is not None else ""),
                  highlight=False)
    if d.summary:
        console.print(f"\n[bold]Summary[/bold] {escape(d.summary)}")
    note = "" if d.processed else " (not post-processed yet)"
    console.print(f"\n[bold]Transcript[/bold] [dim]{d.view}{note}[/dim]")
    for e in d.transcript:
        console.print(_line(e), highlight=False, soft_wrap=True)
    if d.path:
        console.print(f"\n[bold]Path[/bold] {escape(' > '.join(d.path))}", highlight=False)
    if d.slots:
        slots = ", ".join(f"{k}={v}" for k, v in d.slots.items())
        console.print(f"[bold]Slots[/bold] {escape(slots)}", highlight=False)
    if d.turns:
        lat = ", ".join(f"{t.e2e_ms:.0f}" for t in d.turns if t.e2e_ms is not None)
        console.print(f"[bold]Latency[/bold] p50 {d.latency_p50_ms or 0:.0f} ms, p95 "
                      f"{d.latency_p95_ms or 0:.0f} ms; per turn (ms): {lat}", highlight=False)
    for esc in d.escalations:
        times = ", ".join(f"{name} {value:%H:%M:%S}" for name, value in (
            ("requested", esc.requested_at), ("answered", esc.answered_at),
            ("returned", esc.returned_at), ("ended", esc.ended_at)) if value is not None)
        console.print(f"[bold]Escalation[/bold] {escape(esc.queue)} {esc.status}, supervisor "
                      f"{escape(esc.supervisor or 'nobody')}: {times}", highlight=False)
    if d.events:
        table = Table(title="Timeline", title_justify="left")
        table.add_column("at")
        table.add_column("event")
        table.add_column("details")
        for ev in d.events:
            details = " ".join(f"{k}={v}" for k, v in ev.data.items())
            table.add_row(_clock(ev.offset_ms), ev.type, escape(details))
        console.print(table)


@app.command()
def show(
    call_id: Annotated[str, typer.Argument(help="The call's id (from `calls list`)")],
    raw: Annotated[bool, typer.Option(help="The unredacted transcript, where it is kept")]
    = False,
) -> None:
    """One call: transcript with heard vs planned, keypad, path, slots, latency, escalation."""
    from callcenter.config import get_settings
    from callcenter.postcall.redact import RedactionConfig
    from callcenter.records.call_detail import call_detail

    settings = get_settings()
    with db_session() as db:
        found = call_detail(db, call_id, raw=raw,
                            redaction=RedactionConfig.from_settings(settings),
                            keep_raw=settings.keep_raw_transcript)
    if found is None:
        raise fail(f"no call with id {call_id}; `callcenter calls list` shows them")
    if raw and found.view != "raw":
        err.print("[yellow]note:[/yellow] the raw transcript was not kept; showing the "
                  "redacted one")
    print_call(found)
