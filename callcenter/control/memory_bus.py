"""InProcessControlBus: call control inside one process (the embedded default, tests).

Every runner of the local dispatcher shares one bus, so a command reaches the call wherever
it runs in the process. Fencing is by lease token: a newer lease's registration replaces an
older one, and the runner closes a call's registration when it loses the lease.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from callcenter.control.bus import DEFAULT_TIMEOUT_S, CommandHandler, execute
from callcenter.control.commands import Command, CommandResult
from callcenter.control.errors import CallNotLive, CommandTimeout, NotOwner
from callcenter.dispatch.store import Lease


@dataclass(eq=False)
class _Registration:
    bus: InProcessControlBus
    lease: Lease
    handler: CommandHandler
    # One command at a time per call, in arrival order (asyncio.Lock is FIFO).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    is_closed: bool = False

    @property
    def call_id(self) -> str:
        return self.lease.call_id

    @property
    def closed(self) -> bool:
        return self.is_closed

    async def aclose(self) -> None:
        self.is_closed = True
        self.bus._unregister(self)


class InProcessControlBus:
    """A ControlBus for calls served in this process."""

    def __init__(self) -> None:
        self._served: dict[str, _Registration] = {}

    async def send(
        self, call_id: str, command: Command, *, timeout: float = DEFAULT_TIMEOUT_S
    ) -> CommandResult:
        reg = self._served.get(call_id)
        if reg is None:
            raise CallNotLive(call_id)
        try:
            # The deadline covers waiting behind earlier commands too, as on Redis.
            return await asyncio.wait_for(self._run(reg, command), timeout)
        except TimeoutError:
            raise CommandTimeout(call_id, timeout) from None

    async def _run(self, reg: _Registration, command: Command) -> CommandResult:
        async with reg.lock:
            current = self._served.get(reg.call_id)
            if current is not reg:  # replaced or closed while this command waited
                if current is None:
                    raise CallNotLive(reg.call_id)
                raise NotOwner(reg.call_id, current.lease.holder)
            return await execute(reg.lease, reg.handler, command)

    async def serve(self, lease: Lease, handler: CommandHandler) -> _Registration:
        current = self._served.get(lease.call_id)
        if current is not None and current.lease.token > lease.token:
            raise NotOwner(lease.call_id, current.lease.holder)
        reg = _Registration(self, lease, handler)
        self._served[lease.call_id] = reg
        return reg

    def _unregister(self, reg: _Registration) -> None:
        if self._served.get(reg.call_id) is reg:
            del self._served[reg.call_id]

    async def aclose(self) -> None:
        for reg in list(self._served.values()):
            await reg.aclose()
