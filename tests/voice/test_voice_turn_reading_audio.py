"""A number read in three groups, a second apart, by a Piper voice over the phone line,
through the real offline stack (Silero VAD, endpointing, Whisper tiny.en in its executor):
one caller turn, and its text is the one reading of the whole turn (issue #14).
"""

from __future__ import annotations

import asyncio

import pytest

from callcenter.flow.spoken_digits import spoken_digits
from callcenter.rooms.clock import RealClock
from callcenter.rooms.local import LocalRoom
from callcenter.speech.stt.base import Transcript
from callcenter.speech.stt.expect import Expectation
from callcenter.speech.stt.utterance import UtteranceSTTStream
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeTTS
from callcenter.testing.script import CallerScript
from callcenter.voice import Utterance, VoiceSession, VoiceSettings

pytest.importorskip("faster_whisper")
pytest.importorskip("piper")
pytestmark = pytest.mark.slow


async def test_a_number_said_in_three_groups_is_one_turn_read_as_one() -> None:
    from callcenter.speech.offline.whisper import WhisperSTT

    stt = WhisperSTT()
    await asyncio.get_running_loop().run_in_executor(None, stt.warm_up)
    streams: list[UtteranceSTTStream] = []
    readings: list[str] = []
    make = stt.stream

    def stream(**kw: object) -> UtteranceSTTStream:
        s = make(**kw)  # type: ignore[arg-type]
        s.expect(Expectation.of(digits=6))  # as the call session tells it for the ask
        streams.append(s)
        decode_turn = s.decode_turn

        async def reading() -> Transcript | None:
            t = await decode_turn()
            readings.append(t.text if t is not None else "")
            return t

        s.decode_turn = reading  # type: ignore[method-assign]
        return s

    stt.stream = stream  # type: ignore[method-assign]
    clock = RealClock()
    room = LocalRoom(clock=clock, output_rate=16000)
    session = VoiceSession(room, stt=stt, tts=FakeTTS(clock=clock),
                           settings=VoiceSettings(input_rate=8000), clock=clock)
    session.expected_digits = 6
    heard: list[Utterance] = []
    session.on_utterance(heard.append)
    await session.start()
    finals: list[str] = []
    turn = session.on_transcript

    def on_transcript(listener: object, t: object) -> None:
        finals.append(getattr(t, "text", ""))
        turn(listener, t)  # type: ignore[arg-type]

    session.on_transcript = on_transcript  # type: ignore[method-assign]
    await ScriptedCaller(room, CallerScript.from_yaml("""
voice: piper
channel: phone
turns:
  - say: "two one"
  - wait: 1.0
  - say: "five eight"
  - wait: 1.0
  - say: "eight zero"
  - wait: 3.0
""")).run()
    await session.aclose()
    room.close()
    await stt.aclose()
    texts = [u.text for u in heard if u.role == "caller"]
    assert len(texts) == 1, (texts, finals)  # one answer
    assert len(finals) == 3, finals  # a FINAL per group drove the endpointing
    [s] = streams
    assert s.turn_decodes == 1  # and the turn was read once more, whole
    assert texts == readings, (texts, finals)  # that reading is the turn's text
    # What the flow's digits parser makes of it: the number ("to one five eight eight
    # zero" and "215880" are both read so).
    assert spoken_digits(texts[0], min_length=6) == "215880", (texts, finals)
    [m] = session.metrics
    assert m.turn_reading_ms is not None
