"""The console on `callcenter dev`: a thin face over the `DevServer` (same event loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from callcenter.console.backend import ConsoleCall, ConsoleCallError, FeedLine
from callcenter.control.commands import Command, CommandResult
from callcenter.dev.desk import SupervisorDesk
from callcenter.dev.server import DevCallError, DevServer


class DevConsole:
    transport = "webrtc"

    def __init__(self, dev: DevServer) -> None:
        self.dev = dev
        self.desk: SupervisorDesk = dev.desk

    async def live_calls(self) -> Sequence[ConsoleCall]:
        return self.dev.live_calls()

    async def call(self, call_id: str) -> ConsoleCall:
        try:
            return self.dev.call(call_id)
        except DevCallError as exc:
            raise ConsoleCallError(str(exc)) from None

    async def follow(self, call_id: str) -> AsyncIterator[FeedLine | None]:
        try:
            call = self.dev.call(call_id)
        except DevCallError as exc:
            raise ConsoleCallError(str(exc)) from None
        async for ev in call.feed.follow():
            yield ev

    async def flow_nodes(self, call_id: str) -> list[str]:
        return await self.dev.flow_nodes(call_id)

    async def command(self, call_id: str, command: Command) -> CommandResult:
        return await self.dev.command(call_id, command)

    async def leave(self, call_id: str, identity: str) -> None:
        await self.dev.leave_supervisor(call_id, identity)

    async def aclose(self) -> None:
        return None  # the dev server is closed by `callcenter dev`
