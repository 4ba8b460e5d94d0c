"""`callcenter livekit ...`: set up LiveKit SIP for our numbers."""

from __future__ import annotations

import asyncio

import typer
from livekit import api
from rich.console import Console

from callcenter.config import get_settings
from callcenter.livekit_setup import check_outbound_trunk, ensure_sip_setup

app = typer.Typer(help="LiveKit: SIP trunk and dispatch rule.", no_args_is_help=True)
console = Console()


def _numbers_from_db() -> list[str]:
    from sqlmodel import Session, select

    from callcenter.db import get_engine
    from callcenter.models import PhoneNumber

    with Session(get_engine()) as s:
        return [p.number for p in s.exec(select(PhoneNumber)).all()]


@app.command()
def setup(
    number: list[str] = typer.Option(  # noqa: B008
        [], "--number", "-n", help="Inbound number (E.164); default: numbers mapped in the admin"
    ),
    allowed_address: list[str] = typer.Option(  # noqa: B008
        [], "--allowed-address", help="Carrier IP/CIDR allowed to send calls (repeatable)"
    ),
) -> None:
    """Create or update the inbound trunk and dispatch rule (safe to run again)."""
    s = get_settings()
    if not (s.livekit_url and s.livekit_api_key and s.livekit_api_secret):
        raise typer.BadParameter(
            "set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET to your LiveKit project"
        )
    numbers = list(number) or _numbers_from_db()

    async def run() -> list[str]:
        async with api.LiveKitAPI(
            s.livekit_url,
            s.livekit_api_key,
            s.livekit_api_secret.get_secret_value(),  # type: ignore[union-attr]
        ) as lkapi:
            changes = await ensure_sip_setup(
                lkapi, numbers, agent_name=s.agent_name, allowed_addresses=allowed_address
            )
            lines = [str(c) for c in changes]
            # Supervisors by phone dial out through a trunk only the carrier can describe.
            if s.sip_outbound_trunk_id or s.phone_supervisors:
                lines.append(str(await check_outbound_trunk(lkapi, s.sip_outbound_trunk_id)))
            else:
                lines.append("no outbound trunk: set SIP_OUTBOUND_TRUNK_ID (and "
                             "PHONE_SUPERVISORS) to ring supervisors by phone")
        return lines

    try:
        lines = asyncio.run(run())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except api.ServerError as exc:
        console.print(f"[red]LiveKit refused: {exc.code}: {exc.message}[/red]")
        raise typer.Exit(1) from None
    for line in lines:
        console.print(line, highlight=False)
