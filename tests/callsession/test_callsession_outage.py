"""Every TTS failing mid-call: the caller hears the pre-rendered apology, the flow's error route."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

from callcenter.callsession import CallSession, CallSetup, MemoryRecorder
from callcenter.callsession.apology import render_apology
from callcenter.callsession.recorder import CallInfo
from callcenter.flow.validate import load_flow_file
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.speech import SpeechError, TTSAudio, TTSStream
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOWS = Path(__file__).resolve().parents[2] / "flows"


class _DeadStream(TTSStream):
    def push_text(self, text: str) -> None: ...
    def flush(self) -> None: ...
    def end_input(self) -> None: ...

    async def _fail(self) -> AsyncIterator[TTSAudio]:
        raise SpeechError("fallback-tts", "every provider failed: elevenlabs stall; piper down",
                          retryable=False)
        yield  # pragma: no cover

    def __aiter__(self) -> AsyncIterator[TTSAudio]:
        return self._fail()

    async def aclose(self) -> None: ...


class OutageTTS(FakeTTS):
    """Speaks the first `working` utterances, then every stream fails."""

    working = 3

    def stream(self, *, voice: str | None = None) -> TTSStream:
        self.working -= 1
        return _DeadStream() if self.working < 0 else super().stream(voice=voice)


async def test_tts_outage_plays_apology_and_follows_the_provider_failure_route() -> None:
    clock = VirtualClock()
    room = LocalRoom("call-outage", clock=clock)
    board = SpeechBoard()
    tts = OutageTTS(clock=clock)
    recorder = MemoryRecorder()
    apology = await render_apology()
    assert apology is not None and len(apology.samples) > 8000
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "Jane Doe"
          - wait: 60
          - hangup: true
        """), board=board)
    session = CallSession(CallSetup(
        room=room, info=CallInfo("c-out", room.name),
        flow=load_flow_file(FLOWS / "appointment_booking.yaml"),
        stt=FakeSTT(board, clock=clock), tts=tts, recorder=recorder,
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, apology=apology,
        started_at=dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC),
    ))
    run = asyncio.ensure_future(session.run())
    playing = asyncio.ensure_future(caller.run())
    # greet, the name question and the date question work; then every TTS is down.
    while "ask_date" not in session.state.path:
        await clock.sleep(0.01)
    said_at = room.now_ms()
    outcome = await asyncio.wait_for(run, 10)
    await playing

    assert "front_desk" in outcome.state.path  # handlers.provider_failure -> front_desk
    assert any(t == "provider_failure" for _, t, _ in recorder.events)
    heard_after = [s for s in caller.report.agent if s.start_ms >= said_at]
    apology_ms = 1000 * len(apology.samples) / apology.sample_rate
    assert heard_after and heard_after[0].end_ms - heard_after[0].start_ms >= 0.8 * apology_ms
    room.close()
    await clock.aclose()
