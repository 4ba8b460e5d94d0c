"""The offline stack in real time: Whisper runs in an executor, the event loop stays responsive.

Responsive is checked as behaviour (the loop ticked while every transcription ran), not as
a lag bound that a loaded machine breaks; the loop's lag under load is what
`callcenter bench voice` measures (late frames).
"""

from __future__ import annotations

import asyncio

import pytest

from callcenter.rooms.clock import RealClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeTTS
from callcenter.testing.script import CallerScript
from callcenter.voice import Utterance, VoiceSession, VoiceSettings
from tests.loop_witness import LoopWitness

pytest.importorskip("faster_whisper")
pytest.importorskip("piper")
pytestmark = pytest.mark.slow


async def test_event_loop_stays_responsive_while_whisper_transcribes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from callcenter.speech.offline.whisper import WhisperSTT

    stt = WhisperSTT()
    await asyncio.get_running_loop().run_in_executor(None, stt.warm_up)
    witness = LoopWitness()
    monkeypatch.setattr(stt, "transcribe", witness.wrap(stt.transcribe))
    clock = RealClock()
    room = LocalRoom(clock=clock, output_rate=16000)
    session = VoiceSession(
        room, stt=stt, tts=FakeTTS(clock=clock), settings=VoiceSettings(input_rate=8000),
        clock=clock,
    )
    heard: list[Utterance] = []
    session.on_utterance(heard.append)
    await session.start()
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
voice: piper
channel: phone
turns:
  - say: "I want to check my order status"
  - wait: 1.5
  - say: "please put me through to a person"
  - wait: 2.5
"""))
    heartbeat = asyncio.get_running_loop().create_task(witness.heartbeat())
    await caller.run()
    heartbeat.cancel()
    await session.aclose()
    room.close()
    await stt.aclose()
    texts = [u.text.lower() for u in heard if u.role == "caller"]
    assert len(texts) == 2, texts
    assert "order status" in texts[0]
    assert "person" in texts[1]
    # Whisper ran in a worker thread, and the loop went on ticking while it decoded.
    assert witness.calls >= 2 and witness.on_loop_thread == 0
    assert witness.witnessed == witness.calls
