"""`callcenter dev`: the whole contact center in one process, on the embedded default.

The web app (admin, console, browser phone) is served by uvicorn in the same event loop as
the dispatcher, the escalation broker and the control bus, so they are shared in memory.
No LiveKit, Redis, PostgreSQL or API keys: see `callcenter.dev.DevServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from callcenter.config import get_settings
from callcenter.logs import configure_logging

log = logging.getLogger(__name__)
# By name: callcenter/ never imports admin/ (the web app is an edge over this package).
APP_MODULE = "admin.app"
# Why dev cannot hand calls to child processes: every call is a LocalRoom in this process,
# and the browser phone, the SIP bridge and the console's supervisor audio join that room
# object; no media server carries a room between processes here (LiveKit does that in
# production), and the broker, control bus and live transcript feed are in memory too.
DEV_ONE_PROCESS = (
    "callcenter dev carries every call in this one process: its calls are in-process rooms "
    "that the browser phone, the SIP endpoint and the console join, with no media server "
    "between processes. For calls on every core run `callcenter worker --processes N` "
    "(default: one per core) with LIVEKIT_URL and REDIS_URL set; drop --processes here")


def dev(
    host: str = typer.Option("127.0.0.1", help="Address of the web app"),
    port: int = typer.Option(8000, help="Port of the web app"),
    sip_port: int = typer.Option(5060, help="UDP port of the dev SIP endpoint (0: none)"),
    warm: bool = typer.Option(True, help="Load the offline speech models before serving"),
    max_calls: int = typer.Option(20, min=1, max=2000,
                                  help="Calls at once before new ones are refused"),
    processes: int = typer.Option(
        1, min=1, max=256, help="Call-carrying processes; only 1 here (dev's rooms, "
        "console audio, broker and control bus live in this process): for every core use "
        "`callcenter worker --processes N` with LiveKit"),
) -> None:
    """Run the web admin, the supervisor console, the browser phone and the SIP endpoint."""
    if processes > 1:
        raise typer.BadParameter(DEV_ONE_PROCESS, param_hint="--processes")
    # The built-in SECRET_KEY is allowed here only: this server is for one machine.
    os.environ.setdefault("DEV_MODE", "true")
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings)
    # The start-up banner is what a developer reads: schema migration steps, the seeding's
    # audit lines and kombu's memory-broker notice are noise there (all still at WARNING).
    for name in ("alembic", "callcenter.accounts.audit", "kombu"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # A second Ctrl-C during shutdown ends it without a traceback.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(host, port, sip_port or None, warm, max_calls))


async def _serve(host: str, port: int, sip_port: int | None, warm: bool,
                 max_calls: int) -> None:
    import uvicorn

    from callcenter.dev import DevOptions, DevServer

    out = Console(highlight=False, soft_wrap=True)
    server = DevServer(options=DevOptions(sip_port=sip_port, warm_speech=warm,
                                                max_calls=max_calls))
    with out.status("starting: database, flows, speech models, SIP endpoint…"):
        status = await server.start()
    try:
        app: Any = importlib.import_module(APP_MODULE).create_app(
            server.settings, engine=server.engine)
        app.state.dev = server
        config = uvicorn.Config(app, host=host, port=port, log_config=None,
                                server_header=False, lifespan="off",
                                # Open event streams (console tabs) must not hold up Ctrl-C.
                                timeout_graceful_shutdown=2)
        web = uvicorn.Server(config)
        _banner(out, f"http://{host}:{port}", status)
        await web.serve()  # returns on Ctrl-C (uvicorn handles the signal)
    finally:
        out.print("stopping: hanging up calls, stopping workers…")
        await server.aclose()


def _banner(out: Console, url: str, status: Any) -> None:
    out.print(f"\n[bold]callcenter dev[/bold] is running  ·  database {escape(status.database)}")
    out.print(f"  web admin        {url}/")
    out.print(f"  browser phone    {url}/phone")
    out.print(f"  supervisor       {url}/console")
    if status.sip:
        first = status.numbers[0].number if status.numbers else "+15550001000"
        out.print(f"  SIP (UDP)        sip:{first}@{status.sip}")
    for note in status.notes:
        out.print(f"  [yellow]note[/yellow]  {escape(note)}")
    out.print("\n  numbers")
    for n in status.numbers:
        out.print(f"    {n.number}  ->  {escape(n.flow)}"
                  + ("" if n.published else "  [yellow](nothing published)[/yellow]"))
    out.print("\n  logins")
    for login in status.logins:
        secret = (f"password [bold]{escape(login.password)}[/bold]  (shown once: note it)"
                  if login.password else "password shown at first start "
                  "(reset: callcenter users reset-password EMAIL)")
        out.print(f"    {login.role:<11} {login.email}  {secret}")
    out.print("\n  Ctrl-C stops everything.\n")
