"""Escalation: supervisor queues, presence, routing, offers and the brokers.

The Redis broker lives in `callcenter.escalation.redis_broker` (imported on its own, so
the embedded default never loads a Redis client).
"""

from callcenter.escalation.broker import CancelReason, EscalationBroker, QueueView, TicketStatus
from callcenter.escalation.errors import (
    BrokerConflict,
    EscalationError,
    IllegalTransition,
    UnknownTicket,
)
from callcenter.escalation.loop import run_routing
from callcenter.escalation.memory import InProcessEscalationBroker
from callcenter.escalation.offers import Offer
from callcenter.escalation.port import CallEscalation, NoSupervisors, QueueEscalation
from callcenter.escalation.presence import Presence, SupervisorStatus
from callcenter.escalation.queues import Queue, priority_value
from callcenter.escalation.tickets import Ticket, TicketState

__all__ = [
    "BrokerConflict",
    "CallEscalation",
    "CancelReason",
    "EscalationBroker",
    "EscalationError",
    "IllegalTransition",
    "InProcessEscalationBroker",
    "NoSupervisors",
    "Offer",
    "Presence",
    "Queue",
    "QueueEscalation",
    "QueueView",
    "SupervisorStatus",
    "Ticket",
    "TicketState",
    "TicketStatus",
    "UnknownTicket",
    "priority_value",
    "run_routing",
]
