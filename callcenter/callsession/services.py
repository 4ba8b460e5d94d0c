"""Escalation: how a call reaches a supervisor queue."""

from __future__ import annotations

from typing import Protocol

from callcenter.flow.actions import Escalate
from callcenter.flow.events import EscalationResult


class EscalationBroker(Protocol):
    """Puts a call in a supervisor queue and reports how it went."""

    async def request(self, call_id: str, action: Escalate) -> EscalationResult: ...


class NoSupervisors:
    """The embedded default has no supervisor console yet: nobody can take the call.

    The flow then follows its timeout route at once, instead of leaving the caller on
    hold for the whole timeout with nobody who could ever answer.
    """

    async def request(self, call_id: str, action: Escalate) -> EscalationResult:
        return EscalationResult(outcome="unavailable", note="no supervisor is online")
