"""What a call handler gets from the worker: the room, the call id, checkpoints, resume info.

The worker runs one `JobHandler` per call as an asyncio task. The production handler is the
`CallSession` (flow runner + voice session + database); tests use small handlers of their own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from callcenter.control.bus import CommandHandler, ControlBus, ServeHandle
from callcenter.control.commands import Command, CommandResult
from callcenter.control.memory_bus import InProcessControlBus
from callcenter.dispatch.checkpoints import BufferedCheckpoints, store_outage_log
from callcenter.dispatch.outage import OutageLog
from callcenter.dispatch.store import Checkpoint, CheckpointStore, Lease
from callcenter.rooms.base import Room

CALL_ID_KEY = "call_id"


@dataclass(frozen=True, slots=True)
class JobInfo:
    """One job offered to this worker (from LiveKit's `/agent` protocol or the local dispatcher)."""

    job_id: str
    room_name: str
    call_id: str
    agent_name: str
    metadata: dict[str, Any] = field(default_factory=dict)
    room_sid: str = ""

    @property
    def participant_identity(self) -> str:
        return f"agent-{self.call_id}"


def call_id_for(room_name: str, room_sid: str, metadata: str) -> tuple[str, dict[str, Any]]:
    """The call id for a job: `call_id` in the job metadata (a re-dispatch), else the room's.

    A first dispatch comes from the SIP dispatch rule and carries no metadata; the room
    name (`call-<random>`, one room per call) then identifies the call, for the worker and
    the webhook alike.
    """
    meta: dict[str, Any] = {}
    if metadata.strip():
        try:
            parsed = json.loads(metadata)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            meta = parsed
    call_id = meta.get(CALL_ID_KEY)
    if isinstance(call_id, str) and call_id:
        return call_id, meta
    return room_name or room_sid, meta


class CheckpointWriter(Protocol):
    async def save(self, lease: Lease, data: Mapping[str, Any]) -> int: ...


@dataclass(slots=True)
class JobContext:
    """Everything one call's session needs from the worker."""

    job: JobInfo
    room: Room
    worker_id: str
    lease: Lease
    resume: Checkpoint | None
    store: CheckpointStore
    on_turn_latency: Callable[[float], None] = lambda _s: None
    # The worker's bus (shared by its runners); a context built by hand gets a private one.
    control: ControlBus = field(default_factory=InProcessControlBus)
    # Shared by the worker's calls, so a Redis outage is one log line, not one per call.
    store_outage: OutageLog = field(default_factory=store_outage_log)
    # Set before the worker cancels the job at the server's request (its room is gone): the
    # call is over and resumed nowhere, so the handler records its end.
    terminated: bool = False
    _checkpoints: BufferedCheckpoints | None = None
    _serving: ServeHandle | None = None
    _commands: CommandHandler | None = None
    _commands_set: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def call_id(self) -> str:
        return self.job.call_id

    @property
    def resuming(self) -> bool:
        """True when another worker ran this call before (say a recovery line, don't restart)."""
        return self.resume is not None

    @property
    def checkpoints(self) -> BufferedCheckpoints:
        """This call's checkpoint writer (buffers through a store outage)."""
        if self._checkpoints is None:
            self._checkpoints = BufferedCheckpoints(self.store, self.lease, self.store_outage)
        return self._checkpoints

    async def save_checkpoint(self, data: Mapping[str, Any]) -> int:
        """Persist the session's state after a turn; raises `LeaseLost` if the call moved on.

        If the store is unreachable the state is kept and written when it is back; the call
        goes on (the returned sequence number is then the last one stored).
        """
        return await self.checkpoints.save(data)

    def record_turn_latency(self, seconds: float) -> None:
        """End of caller turn -> first agent audio, for the worker's latency histogram."""
        self.on_turn_latency(seconds)

    async def serve_commands(self, handler: CommandHandler) -> ServeHandle:
        """Run call-control commands for this call (console, API, escalation) with `handler`.

        Served while this job holds the call's lease; the worker stops serving when the
        job's task ends or its lease is lost, so a handler need not close the handle.
        Raises `NotOwner` if the lease has already moved on.
        """
        self._commands = handler
        self._commands_set.set()
        return await self.start_serving_commands()

    async def start_serving_commands(self) -> ServeHandle:
        """Make the call reachable by commands now (the worker does it as the job starts).

        Commands that arrive before the handler calls `serve_commands` wait for it, within
        their sender's timeout, so a call that is starting or resuming is not "not live".
        """
        if self._serving is None:
            self._serving = await self.control.serve(self.lease, self._run_command)
        return self._serving

    async def stop_serving_commands(self) -> None:
        """Stop serving this call's commands (the worker does it when the job ends)."""
        if self._serving is not None:
            await self._serving.aclose()

    async def _run_command(self, command: Command) -> CommandResult:
        await self._commands_set.wait()
        assert self._commands is not None
        return await self._commands(command)


JobHandler = Callable[[JobContext], Awaitable[None]]
"""Runs one call to its end; returning means the call is over (it is then never resumed)."""


@dataclass(frozen=True, slots=True)
class RoomTicket:
    """How to join a job's room: server URL, the assignment's token, the room name."""

    url: str
    token: str
    room_name: str
    identity: str


RoomConnector = Callable[[RoomTicket], Awaitable[Room]]
"""Joins a room; the LiveKit connector uses `rtc.Room().connect`, tests an in-memory room."""
