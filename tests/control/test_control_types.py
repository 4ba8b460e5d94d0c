"""Commands and errors survive the wire: JSON in, the same typed value out."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from callcenter.control import (
    CallNotLive,
    Coach,
    Command,
    CommandRejected,
    CommandTimeout,
    CommandUnsupported,
    ControlError,
    HandBack,
    Hangup,
    JoinSupervisor,
    Monitor,
    NotOwner,
    Ping,
    SetListenOnly,
    Transfer,
    parse_command,
)
from callcenter.control.errors import from_wire

COMMANDS = [
    JoinSupervisor(identity="sup-1", name="Sam", via="phone", phone="+15550100", issued_by="u1"),
    SetListenOnly(on=True),
    Coach(text="offer the refund", by="sam"),
    HandBack(node="collect_account", note="verified"),
    Transfer(target="sip:billing@example.com"),
    Hangup(),
    Monitor(identity="qa-2"),
    Ping(issued_by="health"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.kind)
def test_every_command_round_trips_through_json_by_its_kind(command: Command) -> None:
    text = command.model_dump_json()
    assert parse_command(text) == command
    assert parse_command(json.loads(text)) == command


def test_a_malformed_command_is_refused_by_validation() -> None:
    with pytest.raises(ValidationError):
        parse_command({"kind": "join_supervisor", "identity": "s", "via": "fax"})
    with pytest.raises(ValidationError):
        parse_command({"kind": "launch_rockets"})


@pytest.mark.parametrize(
    "error",
    [
        CallNotLive("c1"),
        NotOwner("c1", "w-2|7"),
        CommandTimeout("c1", 2.5),
        CommandRejected("c1", "hand back to unknown node 'x'"),
        CommandUnsupported("c1", "transfer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_comes_back_as_the_same_type_with_its_fields(error: ControlError) -> None:
    wire = json.loads(json.dumps(error.to_wire()))
    again = from_wire(wire)
    assert type(again) is type(error)
    assert again.to_wire() == error.to_wire()
    assert str(again) == str(error) and wire["message"] == str(error)


def test_an_error_code_from_a_newer_sender_is_still_a_control_error() -> None:
    err = from_wire({"error": "quota_exceeded", "message": "too many", "call_id": "c1"})
    assert type(err) is ControlError and str(err) == "too many" and err.call_id == "c1"


def test_messages_say_what_happened_for_people() -> None:
    assert str(CallNotLive("c1")) == "no live call with id 'c1': it ended or never started"
    assert "now held by w-2|7" in str(NotOwner("c1", "w-2|7"))
    assert "within 2.5s" in str(CommandTimeout("c1", 2.5))
