"""Hooks for `callcenter worker` processes in the escalation SIGKILL test.

`handle_call` is THE production call handler with fake speech (no model loads in a test
worker) and no post-call queue; `rooms_with_caller` gives every job a LocalRoom with a
silent SIP caller who dialed `NUMBER`, so the handler finds its flow as in production.
"""

from __future__ import annotations

from functools import lru_cache

from callcenter.callsession import handler
from callcenter.callsession.effects import IntentService
from callcenter.callsession.providers import Speech
from callcenter.dispatch.job import JobContext, RoomTicket
from callcenter.rooms.base import ParticipantKind, Room
from callcenter.rooms.local import LocalRoom
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard

NUMBER = "+15550003000"


@lru_cache(maxsize=1)
def _fake_speech() -> Speech:
    return Speech(stt=FakeSTT(SpeechBoard()), tts=FakeTTS(), llm=None,
                  intents=IntentService(prefer_minilm=False))


async def handle_call(ctx: JobContext) -> None:
    """The production handler with fake speech and no post-call queue.

    Patched here, in the worker process, on its first call: never at import, because the
    test module that starts these workers imports this one into the pytest process too.
    """
    handler.process_speech = _fake_speech  # type: ignore[assignment]
    handler._enqueue_postcall = lambda call_id: None
    await handler.handle_call(ctx)


class _CallerRoom(LocalRoom):
    """One job's room: the caller is already on the line; the agent leaving ends it."""

    async def aclose(self) -> None:
        self.close("agent left")


async def rooms_with_caller(ticket: RoomTicket) -> Room:
    room = _CallerRoom(ticket.room_name, agent_identity=ticket.identity)
    room.join("caller", ParticipantKind.CALLER, sample_rate=8000,
              attributes={"sip.trunkPhoneNumber": NUMBER, "sip.phoneNumber": "+15559990000"})
    return room
