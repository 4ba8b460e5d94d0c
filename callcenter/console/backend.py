"""`ConsoleBackend`: the one shape the console routes talk to, dev or production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from callcenter.control.commands import Command, CommandResult
from callcenter.dev.desk import SupervisorDesk


class ConsoleCallError(Exception):
    """No such call (or it cannot be followed); the message says why, for the page."""


class FeedLine(Protocol):
    """One item of a call's live feed (`kind`: transcript, keys, brief, suggestion,
    alert, joined, left, ended), rendered by the console's feed partials."""

    @property
    def kind(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


class ConsoleCall(Protocol):
    """A live call as the console lists it and heads its panel."""

    @property
    def call_id(self) -> str: ...

    @property
    def number(self) -> str: ...

    @property
    def via(self) -> str: ...

    @property
    def supervisors(self) -> Sequence[str] | dict[str, Any]: ...

    @property
    def alerts(self) -> Sequence[dict[str, Any]]:
        """Console alerts raised on the call so far (escalation.alerts), oldest first."""
        ...


class ConsoleBackend(Protocol):
    """What the console needs from a deployment."""

    desk: SupervisorDesk
    transport: str  # the page's audio transport: "webrtc" (dev) or "livekit"

    async def live_calls(self) -> Sequence[ConsoleCall]: ...

    async def call(self, call_id: str) -> ConsoleCall:
        """The live or finished call; ConsoleCallError when there is none."""
        ...

    def follow(self, call_id: str) -> AsyncIterator[FeedLine | None]:
        """The call's feed from its start as it grows; None is a keep-alive."""
        ...

    async def flow_nodes(self, call_id: str) -> list[str]: ...

    async def command(self, call_id: str, command: Command) -> CommandResult: ...

    async def leave(self, call_id: str, identity: str) -> None:
        """The supervisor's audio leaves the call (dev: its WebRTC peer closes; with
        LiveKit the page disconnects itself)."""
        ...

    async def aclose(self) -> None: ...
