"""`callcenter supervisor`: take escalated calls from a terminal (until the web console).

It is a console like any other on the Redis broker: it heartbeats this supervisor's
presence, shows the queue and every offer with its hand-off brief, and sends the typed
commands to the call through the call-control bus (whichever worker holds the call).
It also runs a routing loop: every broker routes with an atomic claim, so any number of
consoles may route at once, and a deployment with a console always has a router.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from callcenter.control.bus import ControlBus
from callcenter.control.commands import Coach, Command, HandBack, Hangup
from callcenter.control.errors import ControlError
from callcenter.escalation import (
    EscalationBroker,
    Offer,
    Presence,
    Queue,
    SupervisorStatus,
    run_routing,
)

console = Console(highlight=False)
HELP = ("commands: wait [SECONDS] | accept | decline | coach TEXT | back [NODE] | end | "
        "away | available | queue | help | quit")


class TerminalDesk:
    """One supervisor's session: presence, the offer in hand, the call taken."""

    def __init__(self, broker: EscalationBroker, bus: ControlBus, me: Presence,
                 heartbeat_s: float) -> None:
        self.broker, self.bus, self.me = broker, bus, me
        self.heartbeat_s = heartbeat_s
        self.offer: Offer | None = None
        self.call_id: str | None = None
        self._offered = asyncio.Event()

    async def heartbeat(self) -> None:
        while True:
            await self.broker.heartbeat(self.me)
            await asyncio.sleep(self.heartbeat_s)

    async def watch_offers(self) -> None:
        while True:
            offer = await self.broker.next_offer(self.me.supervisor_id, timeout=1.0)
            if offer is not None:
                self.offer = offer
                self._offered.set()
                show_offer(offer)

    async def show_queue(self) -> None:
        t = Table(title="waiting calls")
        for col in ("#", "call", "queue", "priority", "reason"):
            t.add_column(col)
        queues: list[str | None] = [*sorted(self.me.skills)] or [None]
        for q in queues:
            for st in await self.broker.waiting(q):
                tk = st.ticket
                t.add_row(str(st.position or "-"), tk.call_id, tk.queue, str(tk.priority),
                          tk.reason)
        console.print(t)

    async def run(self, line: str) -> bool:
        """Do one typed command; False when the supervisor quits."""
        words = shlex.split(line) if line.strip() else []
        verb, rest = (words[0].lower(), words[1:]) if words else ("", [])
        if verb in ("quit", "exit"):
            return False
        if verb == "wait":
            await self._wait(float(rest[0]) if rest else 30.0)
        elif verb == "accept":
            await self._accept()
        elif verb == "decline":
            await self._decline()
        elif verb == "coach":
            await self._send(Coach(text=" ".join(rest), by=self.me.supervisor_id,
                                   issued_by=self.me.supervisor_id), "coached")
        elif verb == "back":
            if await self._send(HandBack(node=rest[0] if rest else None,
                                         issued_by=self.me.supervisor_id), "handed back"):
                self.call_id = None
        elif verb == "end":
            if await self._send(Hangup(reason="ended by the supervisor",
                                       issued_by=self.me.supervisor_id), "ended the call"):
                self.call_id = None
        elif verb in ("away", "available"):
            status = SupervisorStatus.AWAY if verb == "away" else SupervisorStatus.AVAILABLE
            self.me = await self.broker.set_status(self.me.supervisor_id, status)
            console.print(f"you are {verb}")
        elif verb == "queue":
            await self.show_queue()
        elif verb:
            console.print(HELP if verb == "help" else f"unknown command {verb!r}; {HELP}")
        return True

    async def _wait(self, seconds: float) -> None:
        if self.offer is None:
            self._offered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._offered.wait(), seconds)
        if self.offer is None:
            console.print(f"no offer within {seconds:g} s")

    async def _accept(self) -> None:
        offer, self.offer = self.offer, None
        if offer is None:
            console.print("no offer to accept (type `wait` to wait for one)")
            return
        ticket = await self.broker.accept(offer.offer_id, self.me.supervisor_id)
        if ticket is None:
            console.print(f"call {offer.call_id} is gone (taken, expired or hung up)")
            return
        self.call_id = ticket.call_id
        console.print(f"[green]connected[/] to call {ticket.call_id}: the AI is listening; "
                      "`coach TEXT`, `back [NODE]` or `end`")

    async def _decline(self) -> None:
        offer, self.offer = self.offer, None
        if offer is None:
            console.print("no offer to decline")
            return
        await self.broker.decline(offer.offer_id, self.me.supervisor_id)
        console.print(f"declined call {offer.call_id}")

    async def _send(self, command: Command, done: str) -> bool:
        if self.call_id is None:
            console.print("you have no call (accept an offer first)")
            return False
        try:
            await self.bus.send(self.call_id, command)
        except ControlError as exc:
            console.print(f"[red]{type(exc).__name__}[/]: {exc}")
            return False
        console.print(f"{done} (call {self.call_id})")
        return True


def show_offer(offer: Offer) -> None:
    """The offer and its hand-off brief: why, what the AI collected, where it has been."""
    tk = offer.ticket
    summary = dict(tk.context.get("summary", {}))
    lines = [f"reason: {tk.reason or '-'}", f"queue: {tk.queue}  priority: {tk.priority}"]
    if summary.get("agent_reason"):
        lines.append(f"the AI says: {summary['agent_reason']}")
    for name, value in dict(summary.get("slots", {})).items():
        lines.append(f"  {name}: {value}")
    if summary.get("path"):
        lines.append("path: " + " > ".join(map(str, summary["path"])))
    lines.append("type `accept` or `decline`")
    console.print(Panel("\n".join(lines), title=f"offer: call {tk.call_id}"))


async def _serve(url: str, prefix: str, me: Presence, heartbeat_s: float) -> None:
    from callcenter.control.redis_bus import RedisControlBus
    from callcenter.escalation.redis_broker import RedisEscalationBroker

    broker = RedisEscalationBroker.from_url(url, [Queue(q) for q in sorted(me.skills)],
                                            prefix=prefix)
    bus = RedisControlBus.from_url(url, prefix=prefix)
    desk = TerminalDesk(broker, bus, me, heartbeat_s)
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(t) for t in (
        desk.heartbeat(), desk.watch_offers(), run_routing(broker, interval_s=0.5, stop=stop))]
    try:
        await broker.heartbeat(me)
        console.print(f"{me.supervisor_id} on {', '.join(sorted(me.skills))}. {HELP}")
        await desk.show_queue()
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line or not await desk.run(line):  # EOF or quit
                break
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):  # leaving: routing must not offer us more
            await broker.set_status(me.supervisor_id, SupervisorStatus.AWAY)
        await bus.aclose()
        await broker.aclose()


def supervisor(
    queue: Annotated[list[str], typer.Option("--queue", help="Queue to answer (repeatable)")],
    name: Annotated[str | None, typer.Option("--id", help="Supervisor id; default: $USER")
                    ] = None,
    capacity: Annotated[int, typer.Option(min=1, help="Calls at once")] = 1,
    heartbeat_s: Annotated[float, typer.Option("--heartbeat", min=0.1, help="Seconds")] = 5.0,
) -> None:
    """Take escalated calls from this terminal: offers, accept, coach, hand back, end."""
    import getpass

    from callcenter.config import get_settings

    s = get_settings()
    if not s.redis_url:
        console.print("[red]error:[/] the terminal supervisor needs REDIS_URL (the broker "
                      "and call control live in Redis)", soft_wrap=True)
        raise typer.Exit(2)
    me = Presence(name or getpass.getuser(), capacity=capacity, skills=frozenset(queue))
    asyncio.run(_serve(s.redis_url, s.redis_key_prefix, me, heartbeat_s))
