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
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from callcenter.callsession.effects import (
    IntentService,
    call_webhook,
    run_agent_turn,
)
from callcenter.flow.actions import (
    Action,
    AgentTurn,
    CallWebhook,
    ClassifyIntent,
    Escalate,
    Hangup,
    Listen,
    RecordEvent,
    Say,
    Transfer,
)
from callcenter.flow.events import (
    CallerHungUp,
    CallStarted,
    DtmfReceived,
    EscalationResult,
    Event,
    NoInput,
    ProviderFailure,
    UserSaid,
)
from callcenter.flow.runner import FlowRunner
from callcenter.flow.schema import Flow
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import check_flow_text
from callcenter.speech import LLM
from callcenter.testing.webhook_fixtures import WebhookFixtures

console = Console(highlight=False)
_DTMF = re.compile(r"^[0-9*#]+$")


class ChatSession:
    """Drives a FlowRunner from typed lines and prints what the agent does."""

    def __init__(self, flow: Flow, *, read: Callable[[], str | None], llm: LLM | None,
                 mocks: Path | None, escalation: str, clock: Callable[[], dt.datetime],
                 verbose: bool, intents: IntentService) -> None:
        self.runner = FlowRunner(flow)
        self.state: RunnerState = self.runner.new_state()
        self.read = read
        self.llm = llm
        self.mocks = mocks
        self.escalation = escalation
        self.clock = clock
        self.verbose = verbose
        self.intents = intents
        self.queue: deque[Event] = deque()

    async def run(self) -> RunnerState:
        # Fixtures answer the flow's webhooks locally (same YAML as `callcenter call`).
        transport = WebhookFixtures(self.mocks) if self.mocks else None
        async with httpx.AsyncClient(transport=transport) as client:
            self.queue.append(CallStarted(now=self.clock(), call_id="chat", caller_id="chat"))
            while self.queue:
                event = self.queue.popleft()
                self.state, actions = self.runner.step(self.state, event)
                for action in actions:
                    await self.perform(action, client)
                if not self.queue and not self.state.ended:
                    self.queue.append(self.next_input())
        return self.state

    def next_input(self) -> Event:
        if self.state.status == "escalated":
            console.print("[dim](a supervisor has the call; the chat ends here)[/dim]")
            return CallerHungUp(now=self.clock())
        line = self.read()
        if line is None or line.strip() in ("/quit", "/hangup"):
            return CallerHungUp(now=self.clock())
        line = line.strip()
        if line.startswith("/dtmf"):
            return DtmfReceived(digits=line.removeprefix("/dtmf").strip(), now=self.clock())
        if _DTMF.match(line):
            return DtmfReceived(digits=line, now=self.clock())
        if not line:
            return NoInput(now=self.clock())
        return UserSaid(text=line, now=self.clock())

    async def perform(self, action: Action, client: httpx.AsyncClient) -> None:
        if isinstance(action, Say):
            console.print(f"[bold green]agent:[/bold green] {escape(action.text)}")
        elif isinstance(action, Listen):
            what = f" for {action.slot}" if action.slot else ""
            console.print(f"[dim](listening{what}; keys: type digits, silence: empty line)[/dim]")
        elif isinstance(action, ClassifyIntent):
            intent = self.intents.classify(action)
            self.note(f"intent: {intent.intent} ({intent.confidence:.2f}, {self.intents.backend})")
            self.queue.append(intent.model_copy(update={"now": self.clock()}))
        elif isinstance(action, AgentTurn):
            self.queue.append(await self.agent_turn(action))
        elif isinstance(action, CallWebhook):
            self.note(f"webhook {action.method} {action.url} (attempt {action.attempt})")
            hook = await call_webhook(action, client)
            self.note(f"webhook result: ok={hook.ok} status={hook.status} {hook.error or ''}")
            self.queue.append(hook.model_copy(update={"now": self.clock()}))
        elif isinstance(action, Escalate):
            console.print("[yellow]" + escape(f"[escalate to queue {action.queue}, priority "
                                              f"{action.priority}: {action.reason}]") + "[/yellow]")
            console.print(f"[bold green]agent:[/bold green] {escape(action.hold_prompt)}")
            self.queue.append(EscalationResult(outcome=self.escalation,  # type: ignore[arg-type]
                                               now=self.clock()))
        elif isinstance(action, Transfer):
            console.print("[yellow]" + escape(f"[transfer to {action.target}]") + "[/yellow]")
        elif isinstance(action, Hangup):
            console.print("[yellow]" + escape(f"[hang up: {action.reason}]") + "[/yellow]")
        elif isinstance(action, RecordEvent) and self.verbose:
            self.note(f"{action.event} {json.dumps(action.data, default=str)}")

    async def agent_turn(self, action: AgentTurn) -> Event:
        if self.llm is None:
            self.note("no LLM configured (LLM_PROVIDER=openai and OPENAI_API_KEY to use one)")
            return ProviderFailure(component="llm", message="no LLM configured",
                                   now=self.clock())
        reply = await run_agent_turn(action, self.llm)
        return reply.model_copy(update={"now": self.clock()})

    def note(self, text: str) -> None:
        console.print(f"[dim]  · {escape(text)}[/dim]")


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
    flow_file: Annotated[Path, typer.Option("--flow", help="Flow YAML file")],
    webhooks: Annotated[Path | None, typer.Option(
        help="YAML list of canned webhook replies {match, status, json} instead of HTTP")] = None,
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
    from callcenter.cli.flows import print_problems

    flow, problems = check_flow_text(flow_file.read_text(encoding="utf-8"), str(flow_file))
    if flow is None:
        print_problems(problems)
        raise typer.Exit(1)
    if escalation not in ("connected", "timeout", "unavailable"):
        raise typer.BadParameter("--escalation must be connected, timeout or unavailable")
    fixed = dt.datetime.fromisoformat(at) if at else None
    if fixed is not None and fixed.tzinfo is None:
        fixed = fixed.replace(tzinfo=dt.UTC)

    def clock() -> dt.datetime:
        return fixed or dt.datetime.now(dt.UTC)

    intents = IntentService(prefer_minilm=not keyword_intents)
    llm = _llm()
    backend = "keyword matching (fallback, weaker)" if keyword_intents else "MiniLM"
    console.print(f"[dim]flow {flow.name}: intents by {backend}; LLM: "
                  f"{llm.name if llm else 'none (agent nodes answer from intents)'}[/dim]")
    session = ChatSession(flow, read=_read_line, llm=llm,
                          mocks=webhooks,
                          escalation=escalation, clock=clock, verbose=verbose, intents=intents)
    state = asyncio.run(session.run())
    if intents.backend == "keywords" and not keyword_intents:
        console.print("[yellow]note: MiniLM unavailable; intents used keyword matching[/yellow]")
    summary: dict[str, Any] = {"outcome": state.outcome, "reason": state.end_reason,
                               "nodes": state.path, "slots": state.slots,
                               "variables": state.variables}
    console.print(f"[bold]outcome:[/bold] {state.outcome} ({escape(state.end_reason or '')})")
    console.print(f"[bold]slots:[/bold] {escape(json.dumps(state.slots, default=str))}")
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
