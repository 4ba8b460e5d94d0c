"""What a medium does for the flow interpreter: a voice room, a terminal, a web page.

The interpreter (`interpreter.py`) owns the flow, the conversation and every side effect
(intents, LLM turns, webhooks, escalation, the record). A `Channel` only carries words
to and from the caller: speak, listen, transfer, hang up. A voice call, `callcenter chat`
and the admin's "try it" differ only in their channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from callcenter.flow.actions import Listen
from callcenter.flow.events import Event

TextSource = str | AsyncIterator[str]
# (role, text) of a finished turn heard while a person has the call: "caller" or "supervisor".
LineHook = Callable[[str, str], None]


class Spoken(Protocol):
    """One thing the agent said, as the caller received it (a `voice.SpeechHandle`)."""

    planned_text: str
    heard_text: str
    interrupted: bool
    error: Exception | None

    def done(self) -> bool: ...

    async def wait(self) -> None: ...


class Channel(Protocol):
    """The caller's side of a call, in one medium."""

    # True for text media: they show a prompt's written form ("482913"), not its spoken one.
    written: bool

    def say(self, text: TextSource, *, interruptible: bool = True) -> Spoken:
        """Queue agent speech (a string or a stream of text deltas); returns at once."""
        ...

    def prepare_listen(self, action: Listen) -> None:
        """The next answer wanted, known before its prompt ends (an answer may barge in)."""
        ...

    async def listen(self, action: Listen) -> Event | None:
        """The caller's answer to `action` once its prompt has played; None: the caller left."""
        ...

    async def apologise(self) -> None:
        """Tell the caller something went wrong when the agent's own voice failed."""
        ...

    async def transfer(self, target: str) -> None:
        """Hand the caller to `target`; raises `rooms.RoomCapabilityError` / `TransferFailed`."""
        ...

    async def hang_up(self) -> None:
        """End the call once everything said has played."""
        ...

    async def hold(self, seconds: float) -> None:
        """Play hold audio for `seconds` (cancellable: stops the moment a person answers)."""
        ...

    async def send_data(self, topic: str, payload: dict[str, Any]) -> None:
        """A supervisor-only data message (the brief, suggestions): to the supervisors and
        monitors in the call now, never to the caller; the journal keeps it for later ones."""
        ...

    async def caller_gone(self, on_line: LineHook | None = None) -> None:
        """Return once the caller has left (used while a person has the call); every turn
        heard meanwhile goes to `on_line` (the AI's suggestions to the supervisor)."""
        ...

    async def set_listen_only(self, on: bool) -> None:
        """A person has the call: the agent stops speaking but keeps listening."""
        ...


class Journal(Protocol):
    """The call's record: timeline events and the escalation row."""

    async def event(self, type_: str, data: dict[str, Any]) -> None: ...

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        """The escalation moved to `status` (waiting, active, handed_back, ended, ...)."""
        ...


class QuietJournal:
    """A journal that keeps nothing (a text chat that is not recorded)."""

    async def event(self, type_: str, data: dict[str, Any]) -> None:
        return None

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        return None
