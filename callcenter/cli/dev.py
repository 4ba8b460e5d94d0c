"""`callcenter dev`: the embedded dev server (web admin, console, SIP endpoint) is not built yet.

The command exists so that what README and DESIGN name answers in words, not with "No such
command"; it says what works meanwhile and exits 2 (the usage-error code) so scripts notice.
"""

from __future__ import annotations

import typer

NOT_BUILT = (
    "`callcenter dev` is not built yet; meanwhile: `scripts/demo` places a scripted call end "
    "to end, `callcenter call --flow F --caller S` runs one call on a local room, and "
    "`callcenter worker` takes calls from LiveKit"
)


def dev() -> None:
    """The all-in-one local server (not built yet: says what to use meanwhile)."""
    typer.echo(f"error: {NOT_BUILT}", err=True)
    raise typer.Exit(2)
