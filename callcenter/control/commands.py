"""Commands to a live call, typed and JSON-serialisable (they cross Redis between processes).

One pydantic model per command, told apart by `kind`. Each carries `issued_by` (a user id or
name) so the call's handler can write who did what to the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    issued_by: str = ""


class JoinSupervisor(_Command):
    """A supervisor joins the caller's room (from the console, or dialled out by phone)."""

    kind: Literal["join_supervisor"] = "join_supervisor"
    identity: str
    name: str = ""
    via: Literal["console", "phone"] = "console"
    phone: str | None = None


class TakeOver(_Command):
    """A supervisor barges into a call the AI has alone: the AI listens, the person talks.

    `JoinSupervisor` on such a call does the same (the console's "Take over")."""

    kind: Literal["take_over"] = "take_over"
    identity: str


class SetListenOnly(_Command):
    """The agent stops (on) or resumes (off) speaking; it keeps listening either way."""

    kind: Literal["set_listen_only"] = "set_listen_only"
    on: bool


class Coach(_Command):
    """Text for the agent's context from a supervisor; the caller does not hear it."""

    kind: Literal["coach"] = "coach"
    text: str
    by: str


class HandBack(_Command):
    """The supervisor hands the call back to the AI (at `node`, or where the flow was)."""

    kind: Literal["hand_back"] = "hand_back"
    node: str | None = None
    note: str = ""


class Transfer(_Command):
    """Cold-transfer the caller (SIP REFER) to a number or SIP URI."""

    kind: Literal["transfer"] = "transfer"
    target: str


class Hangup(_Command):
    """End the call."""

    kind: Literal["hangup"] = "hangup"
    reason: str = "ended by supervisor"


class Monitor(_Command):
    """A silent observer joins the room (hears everyone, is heard by no one)."""

    kind: Literal["monitor"] = "monitor"
    identity: str


class PhoneRing(_Command):
    """How ringing a supervisor's phone for this call went (the phone desk tells the call,
    so its timeline says which phone answered or why not). The number stays out: the
    supervisor id names the phone."""

    kind: Literal["phone_ring"] = "phone_ring"
    supervisor: str
    outcome: Literal["answered", "busy", "no_answer", "declined", "unreachable"]
    sip_status: int | None = None


class Ping(_Command):
    """Is the call served, and by whom? The bus answers it without the call's handler."""

    kind: Literal["ping"] = "ping"


Command = Annotated[
    JoinSupervisor | TakeOver | SetListenOnly | Coach | HandBack | Transfer | Hangup | Monitor
    | PhoneRing | Ping,
    Field(discriminator="kind"),
]

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(data: str | bytes | dict[str, Any]) -> Command:
    """A command from its JSON text or dict (raises pydantic's ValidationError)."""
    if isinstance(data, dict):
        return COMMAND.validate_python(data)
    return COMMAND.validate_json(data)


class CommandResult(BaseModel):
    """What a command did; `data` is command-specific (e.g. the supervisor's token)."""

    model_config = ConfigDict(frozen=True)

    ok: bool = True
    data: dict[str, Any] = Field(default_factory=dict)
