"""Call control: typed commands to a live call by id, routed to the worker holding its lease.

`ControlBus` is the interface (bus.py); `InProcessControlBus` serves the embedded default and
`RedisControlBus` (redis_bus.py, imported on its own) serves workers that share a Redis.
"""

from callcenter.control.bus import CommandHandler, ControlBus, ServeHandle
from callcenter.control.commands import (
    Coach,
    Command,
    CommandResult,
    HandBack,
    Hangup,
    JoinSupervisor,
    Monitor,
    Ping,
    SetListenOnly,
    TakeOver,
    Transfer,
    parse_command,
)
from callcenter.control.errors import (
    CallNotLive,
    CommandRejected,
    CommandTimeout,
    CommandUnsupported,
    ControlError,
    NotOwner,
)
from callcenter.control.memory_bus import InProcessControlBus

__all__ = [
    "CallNotLive",
    "Coach",
    "Command",
    "CommandHandler",
    "CommandRejected",
    "CommandResult",
    "CommandTimeout",
    "CommandUnsupported",
    "ControlBus",
    "ControlError",
    "HandBack",
    "Hangup",
    "InProcessControlBus",
    "JoinSupervisor",
    "Monitor",
    "NotOwner",
    "Ping",
    "ServeHandle",
    "SetListenOnly",
    "TakeOver",
    "Transfer",
    "parse_command",
]
