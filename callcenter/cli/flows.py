"""`callcenter flows ...`: validate, publish, list, roll back, seed and describe call flows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from callcenter.cli.common import db_session, fail
from callcenter.flow.problems import FlowProblem, FlowValidationError
from callcenter.flow.schema import flow_json_schema_text
from callcenter.flow.validate import validate_file

app = typer.Typer(help="Call flows: validate, publish, list, rollback, seed, schema.",
                  no_args_is_help=True)
console = Console()
err = Console(stderr=True)

EXAMPLES = Path(__file__).resolve().parents[2] / "flows"


def print_problems(problems: list[FlowProblem]) -> None:
    """One line per problem: `file:line:col: node: message (hint)`."""
    for p in problems:
        where = f"[bold]{escape(p.file)}:{p.line}:{p.column}[/bold]"
        hint = f" [dim]({escape(p.hint)})[/dim]" if p.hint else ""
        node = escape(p.node or "flow")
        console.print(f"{where}: [cyan]{node}[/cyan]: [red]{escape(p.message)}[/red]{hint}",
                      highlight=False, soft_wrap=True)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Flow YAML files", metavar="FILE...",
                                                exists=True, dir_okay=False)],
) -> None:
    """Check flow files; prints every problem with file, line, column and a hint."""
    total = 0
    for path in files:
        problems = validate_file(path)
        total += len(problems)
        print_problems(problems)
        if not problems:
            console.print(f"[green]ok[/green] {escape(str(path))}", highlight=False)
    if total:
        console.print(f"[red]{total} problem(s) in {len(files)} file(s)[/red]")
        raise typer.Exit(1)





@app.command()
def publish(
    file: Annotated[Path, typer.Argument(help="Flow YAML file", exists=True, dir_okay=False)],
    number: Annotated[list[str] | None, typer.Option(
        "--number", help="Route this E.164 number to the flow (repeatable)")] = None,
    author: Annotated[str, typer.Option(help="Who publishes (kept with the version)")] = "",
    note: Annotated[str, typer.Option(help="What changed")] = "",
    move: Annotated[bool, typer.Option(
        "--move", help="Move a --number that another flow answers to this one")] = False,
) -> None:
    """Validate FILE, store it as a new version and publish it (atomically)."""
    from callcenter.flowstore import FlowStore, FlowStoreError, NumberConflict

    problems = validate_file(file)
    if problems:
        print_problems(problems)
        raise typer.Exit(1)
    text = file.read_text(encoding="utf-8")
    moved: list[NumberConflict] = []
    with db_session() as session:
        store = FlowStore(session)
        try:
            version = store.publish_text(text, author=author, note=note, file=str(file))
            name = store.flow_name(version)
            for n in number or []:
                try:
                    store.map_number(n, name, replace=False)
                except NumberConflict as conflict:
                    # A number silently taken from a live flow sends its callers elsewhere.
                    if not move:
                        raise FlowStoreError(
                            f"{conflict.number} already answers with flow "
                            f"{conflict.current_flow!r}; nothing was published. Pass --move "
                            f"to move it to {name!r}") from None
                    store.map_number(n, name, replace=True)
                    moved.append(conflict)
        except (FlowStoreError, FlowValidationError) as exc:
            raise fail(str(exc)) from None
    numbers = f" on {', '.join(number)}" if number else ""
    console.print(f"[green]published[/green] {name} v{version.version}{numbers}")
    for c in moved:
        console.print(f"moved {c.number} from flow {escape(c.current_flow)} to {escape(name)}",
                      highlight=False)


@app.command(name="list")
def list_flows() -> None:
    """Flows with their versions, the published one and their phone numbers."""
    from callcenter.flowstore import FlowStore

    with db_session() as session:
        rows = FlowStore(session).list_flows()
    if not rows:
        console.print("no flows yet: `callcenter flows seed` loads the examples")
        return
    table = Table()
    for column in ("flow", "published", "latest", "versions", "numbers"):
        table.add_column(column, no_wrap=True)
    table.add_column("description", ratio=1)
    for r in rows:
        table.add_row(r.name, f"v{r.published}" if r.published else "[yellow]none[/yellow]",
                      f"v{r.latest}", str(r.versions), ", ".join(r.numbers) or "-",
                      r.description)
    console.print(table)


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="Flow name")],
    version: Annotated[int, typer.Argument(help="Earlier version to publish again", min=1)],
) -> None:
    """Publish an earlier VERSION of flow NAME again."""
    from callcenter.flowstore import FlowStore, FlowStoreError

    with db_session() as session:
        try:
            FlowStore(session).rollback(name, version)
        except (FlowStoreError, FlowValidationError) as exc:
            raise fail(str(exc)) from None
    console.print(f"[green]rolled back[/green] {name} to v{version}")


@app.command()
def seed(
    directory: Annotated[Path, typer.Option(help="Folder of flow YAML files", exists=True,
                                            file_okay=False)] = EXAMPLES,
) -> None:
    """Load the example flows and publish each one whose text changed."""
    from callcenter.flowstore import FlowStore

    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise fail(f"no *.yaml files in {directory}")
    with db_session() as session:
        store = FlowStore(session)
        for path in files:
            problems = validate_file(path)
            if problems:
                print_problems(problems)
                raise typer.Exit(1)
            text = path.read_text(encoding="utf-8")
            version = store.publish_if_changed(text, author="seed", file=str(path))
            state = "unchanged" if version is None else f"published v{version.version}"
            console.print(f"{escape(path.name)}: {state}", highlight=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of flow files (for editors)."""
    typer.echo(flow_json_schema_text())
