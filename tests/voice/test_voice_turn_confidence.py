"""A caller turn carries the recognizer's confidence to the flow (issue #14: read-back).

The voice session's `UserTurn` has the least confidence of its segments' FINALs, or the
turn reading's when the turn was read again as one; `listen` passes it into `UserSaid`,
and a digit answer heard unsurely is read back on a real `CallSession`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from callcenter.callsession import CallSession, CallSetup, MemoryRecorder
from callcenter.callsession.listen import listen
from callcenter.callsession.recorder import CallInfo
from callcenter.flow.actions import Listen
from callcenter.flow.events import UserSaid
from callcenter.flow.validate import check_flow_text
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.speech.stt.base import Transcript, TranscriptKind
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeSTTStream, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import UserTurn, VoiceSession, VoiceSettings
from callcenter.voice.turns import turn_confidence


class ReadStream(FakeSTTStream):
    """Each group's words as its FINAL; the whole turn read as `stt.reading`."""

    def __init__(self, stt: ReadSTT) -> None:
        super().__init__(stt)
        self.reader = stt

    def continue_turn(self) -> None:
        pass

    def end_turn(self) -> None:
        pass

    async def decode_turn(self) -> Transcript | None:
        return Transcript(TranscriptKind.FINAL, "482913", confidence=self.reader.reading)


class ReadSTT(FakeSTT):
    reading = 0.42

    def stream(self, *, language: str = "en", keywords: object = ()) -> ReadStream:  # type: ignore[override]
        return ReadStream(self)


@pytest.fixture
async def voice(vclock: VirtualClock) -> AsyncIterator[tuple[VoiceSession, ReadSTT, LocalRoom]]:
    room = LocalRoom(clock=vclock, output_rate=16000)
    board = SpeechBoard()
    stt = ReadSTT(board, clock=vclock)
    session = VoiceSession(room, stt=stt, tts=FakeTTS(clock=vclock),
                           settings=VoiceSettings(input_rate=8000), clock=vclock)
    room.board = board  # type: ignore[attr-defined]
    yield session, stt, room
    await session.aclose()
    room.close()


async def turns_of(session: VoiceSession, room: LocalRoom, script: str) -> list[UserTurn]:
    got: list[UserTurn] = []
    await session.start()

    async def agent() -> None:
        while True:
            ev = await session.next_event()
            if isinstance(ev, UserTurn):
                got.append(ev)
                session.say("Okay.")

    task = asyncio.get_running_loop().create_task(agent())
    board: SpeechBoard = room.board  # type: ignore[attr-defined]
    await ScriptedCaller(room, CallerScript.from_yaml(script), board=board).run()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return got


ONE = """
turns:
  - say: "four eight two nine one three"
  - wait: agent_done
"""
GROUPS = """
turns:
  - say: "four eight two"
  - wait: 1.0
  - say: "nine one three"
  - wait: agent_done
"""


def test_the_turn_is_as_sure_as_its_least_sure_segment_or_its_reading() -> None:
    assert turn_confidence([0.9, 0.4, 0.8]) == 0.4
    assert turn_confidence([]) == 1.0
    assert turn_confidence([0.9, 0.4], "482913", 0.7) == 0.7
    assert turn_confidence([0.9, 0.4], "  ", 0.7) == 0.4  # an empty reading: segments stand


async def test_a_one_segment_turn_has_its_finals_confidence(
        voice: tuple[VoiceSession, ReadSTT, LocalRoom]) -> None:
    session, stt, room = voice
    stt.confidence = 0.31
    [turn] = await turns_of(session, room, ONE)
    assert turn.text == "four eight two nine one three" and turn.confidence == 0.31


async def test_a_turn_read_again_as_one_has_the_readings_confidence(
        voice: tuple[VoiceSession, ReadSTT, LocalRoom]) -> None:
    session, stt, room = voice
    session.expected_digits = 6
    stt.confidence = 0.95
    [turn] = await turns_of(session, room, GROUPS)
    assert turn.text == "482913" and turn.confidence == 0.42


class Events:
    """Just enough of a VoiceSession for `listen`: a queue of session events."""

    def __init__(self, *events: object) -> None:
        self.events = list(events)

    async def next_event(self, timeout: float | None = None) -> object:
        return self.events.pop(0) if self.events else None


async def test_listen_passes_the_turns_confidence_into_user_said() -> None:
    turn = UserTurn("caller", "four eight two nine one three", 0.0, 900.0, confidence=0.27)
    event, _ = await listen(Events(turn), Listen(), lambda identity: True)  # type: ignore[arg-type]
    assert isinstance(event, UserSaid) and event.confidence == 0.27


FLOW = """
name: order_line
start: ask_order
nodes:
  ask_order:
    type: ask
    slot: order_number
    expect: digits
    pattern: '\\d{6}'
    prompt: Please say your six digit order number.
    next: bye
  bye:
    type: hangup
    say: Thanks.
"""
CONFIRMS = """
voice: espeak
turns:
  - wait: agent_done
  - say: "four eight two nine one three"
  - wait: agent_done
  - say: "yes"
  - wait: agent_done
  - hangup: true
"""


async def test_a_number_heard_unsurely_on_a_call_is_read_back_then_stored(
        clock: VirtualClock, sqlite_engine: Engine) -> None:
    flow, problems = check_flow_text(FLOW, "order_line.yaml")
    assert flow is not None, problems
    room, board, recorder = LocalRoom("unsure", clock=clock), SpeechBoard(), MemoryRecorder()
    stt = FakeSTT(board, clock=clock)
    stt.confidence = 0.4
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id="c-unsure", room_name=room.name), flow=flow,
        stt=stt, tts=FakeTTS(clock=clock), recorder=recorder,
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml(CONFIRMS), board=board)
    run = asyncio.ensure_future(session.run())
    await caller.run()
    outcome = await asyncio.wait_for(run, 10)

    assert outcome.state.slots == {"order_number": "482913"}
    kinds = [kind for _, kind, _ in recorder.events]
    assert kinds.index("readback") < kinds.index("slot_set")
    [read] = [data for _, kind, data in recorder.events if kind == "readback"]
    assert read == {"slot": "order_number", "value": "482913", "confidence": 0.4}
    room.close()
