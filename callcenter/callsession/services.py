"""Escalation's session port now lives in `callcenter.escalation`; re-exported here until
`callsession.session` imports it from there."""

from __future__ import annotations

from callcenter.escalation.port import CallEscalation as EscalationBroker
from callcenter.escalation.port import NoSupervisors

__all__ = ["EscalationBroker", "NoSupervisors"]
