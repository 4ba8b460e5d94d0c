"""`callcenter chat --flow FILE`: talk to a call flow by typing, in the terminal.

Each line you type is what the caller said; a line of keypad characters (`123#`) or
`/dtmf 123#` is key presses; an empty line is silence (no-input); `/quit` hangs up.
Agent nodes use the MiniLM intent classifier offline (keyword matching if it is not
installed, and the banner says so) and OpenAI when LLM_PROVIDER=openai with a key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import Effects, FlowInterpreter
from callcenter.callsession.text_channel import ScriptedEscalations, TextChannel
from callcenter.flow.events import CallStarted
from callcenter.flow.schema import Flow
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import check_flow_text
from callcenter.speech import LLM

console = Console(highlight=False)
# Timeline entries worth a line even without --verbose.
_NOTABLE = {"intent", "no_match", "webhook", "webhook_result", "tool_call", "transferred",
            "transfer_unsupported", "transfer_failed", "provider_failure"}


def _note(text: str) -> None:
    console.print(f"[dim]  · {escape(text)}[/dim]")


class ChatJournal:
    """Prints the call's timeline to the terminal (notable entries; all with --verbose)."""

    def __init__(self, intents: IntentService, verbose: bool) -> None:
        self.intents, self.verbose = intents, verbose

    async def event(self, type_: str, data: dict[str, Any]) -> None:
        if type_ == "intent":
            _note(f"intent: {data.get('intent')} ({float(data.get('confidence', 0)):.2f}, "
                  f"{self.intents.backend})")
        elif self.verbose or type_ in _NOTABLE:
            _note(f"{type_} {json.dumps(data, default=str)}")

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        if status != "waiting":
            _note(f"escalation {status}" + (f" ({supervisor})" if supervisor else ""))
            return
        console.print("[yellow]" + escape(f"[escalate to queue {queue}, priority "
                                          f"{_PRIORITY_NAMES.get(priority, priority)}: "
                                          f"{reason}]") + "[/yellow]")


_PRIORITY_NAMES = {0: "low", 1: "normal", 2: "high", 3: "urgent"}


async def run_chat(flow: Flow, *, read: Callable[[], str | None], llm: LLM | None,
                   mocks: Path | None, escalation: str, clock: Callable[[], dt.datetime],
                   verbose: bool, intents: IntentService) -> RunnerState:
    """Walk `flow` with typed lines as the caller, through the one action interpreter."""

    async def read_line() -> str | None:
        return await asyncio.to_thread(read)

    def write(text: str) -> None:
        console.print(f"[bold green]agent:[/bold green] {escape(text)}")

    # Fixtures answer the flow's webhooks locally (same YAML as `callcenter call`); the test
    # kit is imported only when asked for, so no other command (the worker) ever loads it.
    transport = None
    if mocks:
        from callcenter.scenarios.canned import WebhookFixtures

        transport = WebhookFixtures(mocks)
    async with httpx.AsyncClient(transport=transport) as client:
        interpreter = FlowInterpreter(
            flow, TextChannel(read_line, write, _note),
            Effects(http=client, llm=llm, intents=intents,
                    escalations=ScriptedEscalations(escalation)),
            ChatJournal(intents, verbose), call_id="chat", now=clock,
        )
        if llm is None:
            _note("no LLM configured (LLM_PROVIDER=openai and OPENAI_API_KEY to use one)")
        actions = await interpreter.start(CallStarted(call_id="chat", caller_id="chat"))
        return await interpreter.run(actions)


def _llm() -> LLM | None:
    from callcenter.config import LLMProvider, get_settings
    from callcenter.speech.factory import openai_llm

    settings = get_settings()
    # Without a key chat still runs: agent nodes answer from intents (build_llm would raise).
    return openai_llm(settings) if settings.llm_provider == LLMProvider.OPENAI else None


def _read_line() -> str | None:
    try:
        return input("you> ")
    except EOFError:
        return None


def chat(
    flow_file: Annotated[Path, typer.Option("--flow", help="Flow YAML file", exists=True,
                                            dir_okay=False)],
    webhooks: Annotated[Path | None, typer.Option(
        help="YAML list of canned webhook replies {match, status, json} instead of HTTP",
        exists=True, dir_okay=False)] = None,
    escalation: Annotated[str, typer.Option(
        help="What an escalation does: connected, timeout or unavailable")] = "connected",
    at: Annotated[str | None, typer.Option(
        help="Pretend the call happens at this ISO time (for hours nodes)")] = None,
    keyword_intents: Annotated[bool, typer.Option(
        help="Use keyword matching instead of the MiniLM classifier")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the timeline")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the outcome here")] = None,
) -> None:
    """Talk to a call flow by typing (one line = one caller turn)."""
    from callcenter.cli.common import iso_time
    from callcenter.cli.flows import print_problems

    if escalation not in ("connected", "timeout", "unavailable"):
        raise typer.BadParameter("--escalation must be connected, timeout or unavailable")
    fixed = iso_time(at, "--at")
    if webhooks is not None:  # a malformed fixtures file is refused before the chat starts
        from callcenter.scenarios.canned import WebhookFixtures

        try:
            WebhookFixtures(webhooks)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--webhooks") from None
    flow, problems = check_flow_text(flow_file.read_text(encoding="utf-8"), str(flow_file))
    if flow is None:
        print_problems(problems)
        raise typer.Exit(1)

    def clock() -> dt.datetime:
        return fixed or dt.datetime.now(dt.UTC)

    intents = IntentService(prefer_minilm=not keyword_intents)
    llm = _llm()
    backend = "keyword matching (fallback, weaker)" if keyword_intents else "MiniLM"
    console.print(f"[dim]flow {flow.name}: intents by {backend}; LLM: "
                  f"{llm.name if llm else 'none (agent nodes answer from intents)'}[/dim]")
    state = asyncio.run(run_chat(flow, read=_read_line, llm=llm, mocks=webhooks,
                                 escalation=escalation, clock=clock, verbose=verbose,
                                 intents=intents))
    if intents.backend == "keywords" and not keyword_intents:
        console.print("[yellow]note: MiniLM unavailable; intents used keyword matching[/yellow]")
    summary: dict[str, Any] = {"outcome": state.outcome, "reason": state.end_reason,
                               "nodes": state.path, "slots": state.slots,
                               "variables": state.variables}
    console.print(f"[bold]outcome:[/bold] {state.outcome} ({escape(state.end_reason or '')})")
    console.print(f"[bold]slots:[/bold] {escape(json.dumps(state.slots, default=str))}")
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
