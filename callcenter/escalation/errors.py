"""Typed errors of the escalation domain: callers branch on the type, never on a message."""

from __future__ import annotations


class EscalationError(Exception):
    """Base class for escalation errors."""


class IllegalTransition(EscalationError):
    """A ticket was asked to move to a state its current state cannot reach."""

    def __init__(self, call_id: str, current: str, target: str) -> None:
        super().__init__(f"call {call_id}: cannot go from {current} to {target}")
        self.call_id = call_id
        self.current = current
        self.target = target


class UnknownTicket(EscalationError, LookupError):
    """No escalation ticket exists for this call."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"call {call_id}: no escalation ticket")
        self.call_id = call_id


class BrokerConflict(EscalationError):
    """A write kept losing to concurrent writers; the caller may retry later."""
