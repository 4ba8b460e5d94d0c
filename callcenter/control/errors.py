"""Typed errors of call control, with messages for people.

An error raised on the serving side crosses the wire as `{"error": code, "message": ..., fields}`
and is raised again, as the same type with the same fields, on the sender's side.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ControlError(Exception):
    """A command to a live call did not succeed; `str(err)` says why, for people."""

    code: ClassVar[str] = "control_error"
    fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, call_id: str, message: str) -> None:
        super().__init__(message)
        self.call_id = call_id
        self.message = message

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message, "call_id": self.call_id}
        out.update({name: getattr(self, name) for name in self.fields})
        return out

    def with_call_id(self, call_id: str) -> ControlError:
        """The same error naming `call_id` (handlers may raise without knowing their call id)."""
        if self.call_id:
            return self
        return from_wire({**self.to_wire(), "call_id": call_id})


class CallNotLive(ControlError):
    code = "call_not_live"

    def __init__(self, call_id: str) -> None:
        super().__init__(call_id, f"no live call with id {call_id!r}: it ended or never started")


class NotOwner(ControlError):
    """The call's lease moved on (the serving worker was fenced); the command did not run."""

    code = "not_owner"
    fields = ("holder",)

    def __init__(self, call_id: str, holder: str) -> None:
        now = f"now held by {holder}" if holder else "not held by anyone right now"
        super().__init__(
            call_id,
            f"call {call_id!r} moved to another worker ({now}); the command did not run, "
            "send it again",
        )
        self.holder = holder


class CommandTimeout(ControlError):
    """No answer in time; the command may or may not have run."""

    code = "command_timeout"
    fields = ("seconds",)

    def __init__(self, call_id: str, seconds: float) -> None:
        super().__init__(
            call_id,
            f"call {call_id!r} did not answer within {seconds:g}s; the command may not have run",
        )
        self.seconds = seconds


class CommandRejected(ControlError):
    """The call's handler refused the command (e.g. a hand-back to a node the flow lacks)."""

    code = "command_rejected"
    fields = ("reason",)

    def __init__(self, call_id: str, reason: str) -> None:
        super().__init__(call_id, f"call {call_id!r} refused the command: {reason}")
        self.reason = reason


class CommandUnsupported(ControlError):
    """The call's handler does not take this kind of command."""

    code = "command_unsupported"
    fields = ("kind",)

    def __init__(self, call_id: str, kind: str) -> None:
        super().__init__(call_id, f"call {call_id!r} does not take {kind!r} commands")
        self.kind = kind


_BY_CODE: dict[str, type[ControlError]] = {
    cls.code: cls
    for cls in (CallNotLive, NotOwner, CommandTimeout, CommandRejected, CommandUnsupported)
}


def from_wire(data: dict[str, Any]) -> ControlError:
    """The error `to_wire` encoded; an unknown code (a newer sender) becomes a ControlError."""
    call_id = str(data.get("call_id", ""))
    cls = _BY_CODE.get(str(data.get("error", "")))
    if cls is None:
        return ControlError(call_id, str(data.get("message", "call control failed")))
    try:
        return cls(call_id, *(data[name] for name in cls.fields))  # type: ignore[call-arg]
    except (KeyError, TypeError):
        return ControlError(call_id, str(data.get("message", "call control failed")))
