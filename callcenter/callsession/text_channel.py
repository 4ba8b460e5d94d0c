"""A text channel: the caller types, the agent writes (`callcenter chat`, the admin's "try it").

Same interpreter, same side effects as a voice call; only the medium differs. A line of
keypad characters (`123#`) or `/dtmf 123#` is key presses (`/say 123` is words), an empty
line is silence (no-input), `/quit` or `/hangup` (or the end of input) is the caller hanging
up.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from callcenter.callsession.channel import LineHook, TextSource
from callcenter.escalation.port import Closing, OnUpdate
from callcenter.flow.actions import Escalate, Listen
from callcenter.flow.events import (
    DtmfReceived,
    EscalationResult,
    Event,
    NoInput,
    UserSaid,
)

_DTMF = re.compile(r"^[0-9*#]+$")
ReadLine = Callable[[], Awaitable[str | None]]


class TextSpoken:
    """What the agent wrote: all of it reaches the reader, so heard = planned."""

    def __init__(self, source: TextSource, write: Callable[[str], None]) -> None:
        self.planned_text = source if isinstance(source, str) else ""
        self.heard_text = self.planned_text
        self.interrupted = False
        self.error: Exception | None = None
        self._task: asyncio.Task[None] | None = None
        if isinstance(source, str):
            write(source)
        else:
            self._task = asyncio.ensure_future(self._collect(source, write))

    async def _collect(self, source: AsyncIterator[str], write: Callable[[str], None]) -> None:
        parts = [delta async for delta in source]
        self.planned_text = self.heard_text = "".join(parts).strip()
        if self.planned_text:
            write(self.planned_text)

    def done(self) -> bool:
        return self._task is None or self._task.done()

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)


def parse_line(line: str) -> Event | None:
    """The caller's event for one typed line; None means they hung up."""
    line = line.strip()
    if line in ("/quit", "/hangup"):
        return None
    if line.startswith("/dtmf"):
        return DtmfReceived(digits=line.removeprefix("/dtmf").strip())
    if line.startswith("/say "):  # words even when they look like keys ("482913" said aloud)
        return UserSaid(text=line.removeprefix("/say ").strip())
    if _DTMF.match(line):
        return DtmfReceived(digits=line)
    if not line:
        return NoInput()
    return UserSaid(text=line)


class TextChannel:
    """Reads caller lines with `read`, shows agent lines with `write`, notes with `note`."""

    written = True

    def __init__(self, read: ReadLine, write: Callable[[str], None],
                 note: Callable[[str], None] = lambda _: None) -> None:
        self.read, self.write, self.note = read, write, note

    def say(self, text: TextSource, *, interruptible: bool = True) -> TextSpoken:
        return TextSpoken(text, self.write)

    def prepare_listen(self, action: Listen) -> None:
        return None

    async def listen(self, action: Listen) -> Event | None:
        what = f" for {action.slot}" if action.slot else ""
        self.note(f"listening{what}; keys: type digits, silence: empty line")
        line = await self.read()
        return None if line is None else parse_line(line)

    async def apologise(self) -> None:
        self.note("the agent's voice failed: a voice caller would hear the outage apology")

    async def transfer(self, target: str) -> None:
        self.note(f"transfer to {target}")

    async def hang_up(self) -> None:
        self.note("hang up")

    async def hold(self, seconds: float) -> None:
        self.note(f"hold music ({seconds:g} s)")
        await asyncio.sleep(seconds)

    async def send_data(self, topic: str, payload: dict[str, Any]) -> None:
        self.note(f"to the supervisor ({topic}): {json.dumps(payload, default=str)}")

    async def caller_gone(self, on_line: LineHook | None = None) -> None:
        while (line := await self.read()) is not None:
            event = parse_line(line)
            if event is None:
                return
            if isinstance(event, UserSaid) and on_line is not None:
                on_line("caller", event.text)

    async def set_listen_only(self, on: bool) -> None:
        self.note("a supervisor has the call (the agent listens); /quit hangs up" if on
                  else "the agent has the call again")


class ScriptedEscalations:
    """An escalation broker that answers every request with one outcome (text chats)."""

    def __init__(self, outcome: str = "connected") -> None:
        if outcome not in ("connected", "timeout", "unavailable"):
            raise ValueError(f"escalation outcome must be connected, timeout or unavailable, "
                             f"not {outcome!r}")
        self.outcome = outcome

    async def request(self, call_id: str, action: Escalate,
                      on_update: OnUpdate | None = None) -> EscalationResult:
        return EscalationResult(outcome=self.outcome)  # type: ignore[arg-type]

    async def attach(self, call_id: str, action: Escalate, supervisor: str) -> None:
        return None

    async def close(self, call_id: str, how: Closing) -> None:
        return None
