"""The call-control interface: send a command to a live call by id; serve the calls you hold.

Whoever holds a call's lease serves its commands (`serve`); anyone may `send` (the console,
the API, escalation). The bus delivers each command to the current holder, at most once, and
returns its `CommandResult` or raises a `ControlError`:

- `CallNotLive`: nobody serves the call (it ended, never started, or stopped taking commands);
- `NotOwner`: the command reached a worker whose lease had moved on; it did not run;
- `CommandTimeout`: no answer in time (the command may or may not have run);
- `CommandRejected` / `CommandUnsupported`: the call's handler refused it.

Commands to one call run one at a time, in the order they arrived. `Ping` is answered by the
bus itself, so it tells who serves a call even when the handler is busy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from callcenter.control.commands import Command, CommandResult, Ping
from callcenter.control.errors import CommandRejected, ControlError
from callcenter.dispatch.store import Lease

log = logging.getLogger(__name__)

CommandHandler = Callable[[Command], Awaitable[CommandResult]]
"""Runs one command on the call; raises a ControlError (e.g. CommandRejected) to refuse it."""

DEFAULT_TIMEOUT_S = 5.0


class ServeHandle(Protocol):
    """A call's registration on the bus; `aclose()` stops serving it (idempotent)."""

    @property
    def call_id(self) -> str: ...

    @property
    def closed(self) -> bool: ...

    async def aclose(self) -> None: ...


class ControlBus(Protocol):
    """Commands to live calls, delivered to whichever worker holds the call's lease."""

    async def send(
        self, call_id: str, command: Command, *, timeout: float = DEFAULT_TIMEOUT_S
    ) -> CommandResult:
        """Run `command` on the call; its result, or a ControlError."""
        ...

    async def serve(self, lease: Lease, handler: CommandHandler) -> ServeHandle:
        """Take commands for `lease.call_id` while `lease` is current.

        Raises NotOwner if the lease is already stale. A newer lease's registration replaces
        an older one (the old handle then serves nothing).
        """
        ...

    async def aclose(self) -> None:
        """Stop serving every call and release connections."""
        ...


async def execute(lease: Lease, handler: CommandHandler, command: Command) -> CommandResult:
    """Run one command on the serving side; every failure becomes a ControlError."""
    if isinstance(command, Ping):
        return CommandResult(data={"worker_id": lease.worker_id, "token": lease.token})
    try:
        return await handler(command)
    except ControlError as err:
        raise err.with_call_id(lease.call_id) from None
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug in the handler must reach the sender, not vanish
        log.exception("call %s: %s command failed", lease.call_id, command.kind)
        raise CommandRejected(
            lease.call_id, f"the call's handler failed: {type(exc).__name__}: {exc}"
        ) from exc
