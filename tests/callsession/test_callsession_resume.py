"""A call resumed from its checkpoint on a new session: one recovery line, nothing re-asked."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

from callcenter.callsession import CallSession, CallSetup, MemoryRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.callsession.session import RECOVERY_LINE
from callcenter.flow.validate import load_flow_file
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SCRIPT = """
voice: espeak
channel: phone
turns:
  - wait: agent_done
  - say: "Jane Doe"
  - wait: agent_done
  - say: "next Tuesday"
  - wait: agent_done
  - say: "I would like to talk to a person"
  - wait: 15
  - hangup: true
"""


async def test_session_resumed_from_checkpoint_keeps_slots_and_says_one_recovery_line() -> None:
    clock = VirtualClock()
    room = LocalRoom("call-resume", clock=clock)
    board = SpeechBoard()
    flow = load_flow_file(FLOWS / "appointment_booking.yaml")
    checkpoints: list[dict[str, Any]] = []
    recorder = MemoryRecorder()

    def setup(resume: dict[str, Any] | None) -> CallSetup:
        async def save(data: dict[str, Any]) -> None:
            checkpoints.append(data)

        return CallSetup(
            room=room, info=CallInfo("c-resume", room.name), flow=flow,
            stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock), recorder=recorder,
            voice_settings=VoiceSettings(input_rate=8000), clock=clock, checkpoint=save,
            resume=resume, started_at=dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC),
        )

    caller = ScriptedCaller(room, CallerScript.from_yaml(SCRIPT), board=board)
    first = asyncio.ensure_future(CallSession(setup(None)).run())
    playing = asyncio.ensure_future(caller.run())

    # "Crash" the first session one second into the question that follows the name.
    while not any(c["state"]["node"] == "ask_date" for c in checkpoints):
        await clock.sleep(0.05)
    await clock.sleep(1.0)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first

    second = CallSession(setup(checkpoints[-1]))
    outcome = await asyncio.wait_for(second.run(), 10)
    await playing

    agent_lines = [u.text for _, u in recorder.utterances if u.role == "agent"]
    assert agent_lines.count(RECOVERY_LINE) == 1
    assert sum("full name" in line for line in agent_lines) == 1, "the name was asked again"
    assert outcome.state.slots["patient_name"] == "Jane Doe"
    assert outcome.state.slots["appointment_date"] == "2026-12-01"
    assert "front_desk" in outcome.state.path  # the human request after the resume worked
    assert any(t == "call_resumed" for _, t, _ in recorder.events)
    room.close()
    await clock.aclose()
