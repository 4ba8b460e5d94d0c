"""A flow driven turn by turn with text: the admin's "try it", the API, scripted checks.

Same interpreter, same side effects as a voice call (`interpreter.py` on a `TextChannel`);
the caller's turns are pushed with `send()` and each returns what the agent wrote until
the flow waits for the caller again (or the call ends).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from callcenter.callsession.channel import QuietJournal
from callcenter.callsession.interpreter import Effects, FlowInterpreter
from callcenter.callsession.text_channel import TextChannel
from callcenter.flow.events import CallStarted
from callcenter.flow.schema import Flow
from callcenter.flow.state import RunnerState

_SETTLE_TURNS = 10


@dataclass
class TextTurn:
    """What the agent did in answer to one caller turn."""

    said: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The timeline entries behind the notes, with their data (intent, webhook, ...).
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Everything above in the order it happened: ("agent", text), ("note", text) or
    # ("event", (type, data)), for a page that shows notes between the agent's lines.
    lines: list[tuple[str, Any]] = field(default_factory=list)
    ended: bool = False


class _Timeline(QuietJournal):
    """Timeline entries become the turn's notes (node entered, slot set, ...)."""

    def __init__(self, session: TextSession) -> None:
        self.session = session

    async def event(self, type_: str, data: dict[str, Any]) -> None:
        turn = self.session._turn
        turn.notes.append(type_)
        turn.events.append((type_, data))
        turn.lines.append(("event", (type_, data)))

    async def escalation(self, queue: str, priority: int, reason: str, status: str,
                         supervisor: str | None = None) -> None:
        self.session._note(f"escalation {status}: queue {queue}"
                           + (f" ({reason})" if reason else ""))


class TextSession:
    """One text conversation with a flow. Not thread-safe: one caller at a time."""

    def __init__(self, flow: Flow, effects: Effects, *, call_id: str = "try-it",
                 caller_id: str = "", now: dt.datetime | None = None,
                 variables: dict[str, Any] | None = None) -> None:
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._turn = TextTurn()
        self._waiting = asyncio.Event()
        self._fixed = now
        self.interpreter = FlowInterpreter(
            flow, TextChannel(self._read, self._say, self._note), effects,
            _Timeline(self), call_id=call_id, now=self._now,
        )
        self._first = CallStarted(call_id=call_id, caller_id=caller_id,
                                  variables=dict(variables or {}))
        self._task: asyncio.Task[RunnerState] | None = None

    @property
    def state(self) -> RunnerState:
        return self.interpreter.state

    @property
    def ended(self) -> bool:
        return self._task is not None and self._task.done()

    @property
    def outcome(self) -> tuple[str | None, str | None]:
        """(outcome, reason) of the call; one the caller left before the flow ended it is
        a hang-up, as a voice call's record says (`caller_hangup`)."""
        state = self.state
        if state.outcome is None and self.ended:
            return "hangup", "caller hung up"
        return state.outcome, state.end_reason

    def _now(self) -> dt.datetime:
        return self._fixed or dt.datetime.now(dt.UTC)

    def _say(self, text: str) -> None:
        self._turn.said.append(text)
        self._turn.lines.append(("agent", text))

    def _note(self, text: str) -> None:
        self._turn.notes.append(text)
        self._turn.lines.append(("note", text))

    async def _read(self) -> str | None:
        self._waiting.set()
        try:
            return await self._lines.get()
        except asyncio.CancelledError:
            self._waiting.clear()  # a read given up (the queue answered first) is no wait
            raise

    async def _main(self) -> RunnerState:
        actions = await self.interpreter.start(self._first)
        return await self.interpreter.run(actions)

    async def start(self) -> TextTurn:
        """Begin the call; returns the greeting and whatever comes before the first question."""
        if self._task is not None:
            raise RuntimeError("this conversation has already started")
        self._task = asyncio.ensure_future(self._main())
        return await self._until_waiting()

    async def send(self, line: str | None) -> TextTurn:
        """The caller's turn (`123#` keys, "" silence, None hang-up); the agent's answer."""
        if self._task is None:
            raise RuntimeError("call start() first")
        if self._task.done():
            return TextTurn(ended=True)
        self._waiting.clear()
        self._lines.put_nowait(line)
        return await self._until_waiting()

    async def _until_waiting(self) -> TextTurn:
        assert self._task is not None
        while not self._task.done():
            waiter = asyncio.ensure_future(self._waiting.wait())
            try:
                await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            # While an escalation waits in the queue the caller is listened to as well; a
            # scripted queue answers at once and that read is given up a few loop turns
            # later. Only a read still open once the loop has settled is the caller's turn.
            for _ in range(_SETTLE_TURNS):
                await asyncio.sleep(0)
            if self._waiting.is_set():
                break
        if self._task.done():
            self._task.result()  # a bug in the flow run surfaces here, not silently
        turn, self._turn = self._turn, TextTurn()
        turn.ended = self._task.done()
        return turn

    async def aclose(self) -> None:
        """Hang up (if still talking) and wait for the flow to finish."""
        if self._task is not None and not self._task.done():
            self._lines.put_nowait(None)
            await asyncio.wait_for(self._task, 10)
