"""Whole calls: a flow on a LocalRoom, a scripted caller, fake speech, a real SQLite record."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.flow.validate import load_flow_file
from callcenter.models import Call, CallEvent, Utterance
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOWS = Path(__file__).resolve().parents[2] / "flows"
TUESDAY_MORNING = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def _scheduler(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    assert body["phone"] == "5551234567"
    return httpx.Response(201, json={"id": "BK-42"})



async def test_appointment_booking_by_speech_and_keypad_is_recorded(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    room = LocalRoom("call-test1", clock=clock)
    board = SpeechBoard()
    script = CallerScript.from_yaml(
        """
        voice: espeak
        channel: phone
        turns:
          - wait: agent_done
          - say: "Jane Doe"
          - wait: agent_done
          - say: "next Tuesday"
          - wait: agent_done
          - dtmf: "2"
          - wait: agent_done
          - dtmf: "5551234567#"
          - wait: agent_done
          - say: "yes please"
          - wait: 20
          - hangup: true
        """
    )
    caller = ScriptedCaller(room, script, board=board)
    http = httpx.AsyncClient(transport=httpx.MockTransport(_scheduler))
    session = CallSession(
        CallSetup(
            room=room,
            info=CallInfo(call_id="c-appt", room_name=room.name, caller_number="+15550001111"),
            flow=load_flow_file(FLOWS / "appointment_booking.yaml"),
            stt=FakeSTT(board, clock=clock),
            tts=FakeTTS(clock=clock),
            recorder=SqlRecorder(sqlite_engine, clock=clock),
            voice_settings=VoiceSettings(input_rate=8000),
            clock=clock,
            http=http,
            started_at=TUESDAY_MORNING,
        )
    )
    import asyncio

    run = asyncio.ensure_future(session.run())
    report = await caller.run()
    outcome = await asyncio.wait_for(run, 5)

    assert outcome.state.slots["patient_name"].lower() == "jane doe"
    assert outcome.state.slots["appointment_time"] == "13:00"
    assert outcome.state.slots["callback_number"] == "5551234567"
    assert outcome.state.variables["booking_id"] == "BK-42"
    assert "goodbye" in outcome.state.path
    assert len(report.agent) >= 6

    with Session(sqlite_engine) as s:
        call = s.get(Call, "c-appt")
        assert call is not None and call.status == "ended"
        utts = s.exec(select(Utterance).where(Utterance.call_id == "c-appt")).all()
        roles = {u.speaker_role for u in utts}
        assert {"agent", "caller"} <= roles
        assert any("jane doe" in u.text.lower() for u in utts if u.speaker_role == "caller")
        events = s.exec(select(CallEvent).where(CallEvent.call_id == "c-appt")).all()
        assert any(e.type == "node_entered" for e in events) or len(events) > 5
        assert call.metrics["turns"], "per-turn metrics are stored with the call"
    await http.aclose()
    room.close()
