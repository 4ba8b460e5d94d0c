"""One call, end to end: the flow runner driving a voice session in a room, recorded.

`CallSession` is the production `JobHandler` body for the worker and the engine behind
`callcenter call`. It glues layers that know nothing of each other: `flow` (pure state
machine), `voice` (real-time audio), `speech` (providers) and a `CallRecorder` (SQL).
"""

from callcenter.callsession.recorder import CallRecorder, MemoryRecorder, SqlRecorder
from callcenter.callsession.session import CallOutcome, CallSession, CallSetup

__all__ = [
    "CallOutcome",
    "CallRecorder",
    "CallSession",
    "CallSetup",
    "MemoryRecorder",
    "SqlRecorder",
]
