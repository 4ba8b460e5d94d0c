"""A turn that goes on past a pause is one answer, heard as one decode (issue #14).

A number read in groups ("four eight | two nine | one three", a second between them) is
held open by the endpointing while digits are missing; each group's FINAL drives that.
When the turn ends the session asks the STT for one reading of the whole turn
(`STTStream.decode_turn`) and that reading is the turn's text. The fake STT here gives
each group's words as its FINAL and a scripted reading, and counts what it was asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.speech.stt.base import Transcript, TranscriptKind
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeSTTStream, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import Utterance, VoiceSession, VoiceSettings
from callcenter.voice.turns import turn_text, wants_reading


class ReadingStream(FakeSTTStream):
    def __init__(self, stt: ReadingSTT) -> None:
        super().__init__(stt)
        self.owner = stt

    def continue_turn(self) -> None:
        self.owner.continued += 1

    def end_turn(self) -> None:
        self.owner.ended += 1

    async def decode_turn(self) -> Transcript | None:
        owner = self.owner
        owner.asked.append(owner.clock.now())
        try:
            await owner.clock.sleep(owner.read_s)
        except asyncio.CancelledError:
            owner.given_up += 1
            raise
        if owner.reading is None:
            return None
        return Transcript(TranscriptKind.FINAL, owner.reading)


class ReadingSTT(FakeSTT):
    def __init__(self, board: SpeechBoard, clock: VirtualClock) -> None:
        super().__init__(board, clock=clock)
        self.reading: str | None = "482913"
        self.read_s = 0.2  # how long the reading takes (virtual time)
        self.asked: list[float] = []
        self.continued = self.ended = self.given_up = 0

    def stream(self, *, language: str = "en", keywords: object = ()) -> ReadingStream:  # type: ignore[override]
        return ReadingStream(self)




@pytest.fixture
async def call(vclock: VirtualClock) -> AsyncIterator[tuple[VoiceSession, ReadingSTT, LocalRoom]]:
    room = LocalRoom(clock=vclock, output_rate=16000)
    board = SpeechBoard()
    stt = ReadingSTT(board, vclock)
    session = VoiceSession(room, stt=stt, tts=FakeTTS(clock=vclock),
                           settings=VoiceSettings(input_rate=8000), clock=vclock)
    room.board = board  # type: ignore[attr-defined]
    yield session, stt, room
    await session.aclose()
    room.close()


async def play(session: VoiceSession, room: LocalRoom, script: str) -> list[str]:
    heard: list[Utterance] = []
    session.on_utterance(heard.append)
    await session.start()

    async def agent() -> None:
        while True:
            ev = await session.next_event()
            if ev is not None and type(ev).__name__ == "UserTurn":
                session.say("Okay.")

    task = asyncio.get_running_loop().create_task(agent())
    board: SpeechBoard = room.board  # type: ignore[attr-defined]
    await ScriptedCaller(room, CallerScript.from_yaml(script), board=board).run()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return [u.text for u in heard if u.role == "caller"]


TWO_PAUSES = """
turns:
  - say: "four eight"
  - wait: 1.0
  - say: "two nine"
  - wait: 1.0
  - say: "one three"
  - wait: agent_done
"""


def test_the_rule_reads_again_only_a_turn_of_several_segments() -> None:
    assert not wants_reading(1)
    assert wants_reading(2) and wants_reading(3)
    assert turn_text(["four eight", "two nine", "one three"], "482913") == "482913"
    # No reading, or one that heard nothing: the segments' texts stand.
    assert turn_text(["four eight", "", "two nine"], None) == "four eight two nine"
    assert turn_text(["four eight", "two nine"], "  ") == "four eight two nine"


async def test_a_number_with_two_one_second_pauses_is_one_answer_heard_as_one_decode(
        call: tuple[VoiceSession, ReadingSTT, LocalRoom]) -> None:
    session, stt, room = call
    session.expected_digits = 6
    turns = await play(session, room, TWO_PAUSES)
    assert turns == ["482913"]  # the reading, not "four eight two nine one three"
    assert len(stt.asked) == 1  # one extra decode, for the whole turn
    assert stt.continued == 2  # told twice that the turn went on
    assert stt.given_up == 0
    assert stt.ended >= 1  # the committed turn's audio may go
    [m] = session.metrics
    # The complete number ends the turn at once; the commit then waited for the reading.
    assert m.turn_reading_ms is not None
    assert 0 < m.turn_reading_ms <= 1000 * stt.read_s + 1
    assert m.end_of_utterance_delay_ms is not None
    assert m.end_of_utterance_delay_ms < 1000 * (VoiceSettings().endpointing.min_delay
                                                 + stt.read_s)


async def test_a_held_open_turn_is_read_only_when_it_ends(
        call: tuple[VoiceSession, ReadingSTT, LocalRoom]) -> None:
    session, stt, room = call
    session.expected_digits = 6
    await play(session, room, TWO_PAUSES)
    # After "two nine" four digits of six were heard: the turn was held open, and no
    # reading was started then (the caller went on, as callers reading a number do).
    speech_ends = [u.end_ms for u in room.board.utterances]  # type: ignore[attr-defined]
    assert len(speech_ends) == 3
    assert all(1000 * at > speech_ends[-1] for at in stt.asked)


async def test_a_one_segment_answer_costs_no_reading(
        call: tuple[VoiceSession, ReadingSTT, LocalRoom]) -> None:
    session, stt, room = call
    session.expected_digits = 6
    turns = await play(session, room, """
turns:
  - say: "four eight two nine one three"
  - wait: agent_done
""")
    assert turns == ["four eight two nine one three"]
    assert stt.asked == [] and stt.continued == 0
    assert session.metrics[0].turn_reading_ms is None


async def test_without_a_reading_the_segments_texts_stand(
        call: tuple[VoiceSession, ReadingSTT, LocalRoom]) -> None:
    session, stt, room = call
    stt.reading = None  # a streaming provider, or a reading that failed
    session.expected_digits = 6
    turns = await play(session, room, TWO_PAUSES)
    assert turns == ["four eight two nine one three"]
    assert len(stt.asked) == 1


async def test_a_reading_started_in_the_wait_is_given_up_when_the_caller_goes_on(
        call: tuple[VoiceSession, ReadingSTT, LocalRoom]) -> None:
    session, stt, room = call
    stt.read_s = 0.5  # longer than the pause: still running when the caller goes on
    turns = await play(session, room, """
turns:
  - say: "yes"
  - wait: 0.3
  - say: "hello there"
  - wait: 0.3
  - say: "good day"
  - wait: agent_done
""")
    assert turns == ["482913"]
    # After "hello there" the turn looked done: its reading started during the wait and
    # was given up at "good day"; the turn was then read once more, whole.
    assert len(stt.asked) == 2
    assert stt.given_up == 1
