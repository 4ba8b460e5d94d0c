"""A scripted caller says watched phrases (the setting's and the flow's): each becomes an
`alert` call event, stored with the call, and shows on the dev call feed and in the
console's live list and call view."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from admin.routes.console import partial, render_feed_event
from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.dev.calls import DevCall
from callcenter.dev.handler import TappedRecorder
from callcenter.flow.validate import check_flow_text
from callcenter.models import CallEvent
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOW = """
name: account_line
start: ask_reason
watch_phrases: ["speak to a manager"]
nodes:
  ask_reason:
    type: ask
    slot: reason
    prompt: How can I help you today?
    next: ask_more
  ask_more:
    type: ask
    slot: more
    prompt: Anything else?
    next: bye
  bye:
    type: hangup
    say: Goodbye.
"""
CALL_ID = "dev-alerts"



async def test_watched_phrases_from_a_scripted_caller_flag_the_call_on_the_console(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    flow, problems = check_flow_text(FLOW, "account_line.yaml")
    assert flow is not None, problems
    room, board = LocalRoom(CALL_ID, clock=clock), SpeechBoard()
    call = DevCall(CALL_ID, "+15550001000", room, "sip")
    recorder = TappedRecorder(SqlRecorder(sqlite_engine, clock=clock), CALL_ID,
                              lambda _id, u: call.add_utterance(u),
                              on_event=lambda _id, type_, data: call.add_event(type_, data))
    session = CallSession(CallSetup(
        room=room, info=CallInfo(call_id=CALL_ID, room_name=room.name), flow=flow,
        stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock), recorder=recorder,
        voice_settings=VoiceSettings(input_rate=8000), clock=clock, http=httpx.AsyncClient(),
        watch_phrases=("cancel my account", "lawyer"),
    ))
    caller = ScriptedCaller(room, CallerScript.from_yaml("""
        voice: espeak
        turns:
          - wait: agent_done
          - say: "I want to cancel my account"
          - wait: agent_done
          - say: "yes let me speak to a manager"
          - wait: agent_done
          - hangup: true
        """), board=board)
    run = asyncio.ensure_future(session.run())
    await caller.run()
    await run

    alerts = [ev.data for ev in call.feed.events if ev.kind == "alert"]
    assert [a["phrase"] for a in alerts] == ["cancel my account", "speak to a manager"]
    assert alerts[0]["said"].lower().startswith("i want to cancel my account")
    assert call.alerts == alerts
    with Session(sqlite_engine) as s:
        stored = [e.data for e in s.exec(select(CallEvent).where(
            CallEvent.call_id == CALL_ID, CallEvent.type == "alert"))]
    assert stored == alerts, "the alerts are kept on the call"

    listed = partial("_console_calls.html", calls=[call])
    assert 'class="pill pill-alert"' in listed and "speak to a manager" in listed
    line = render_feed_event(None, next(ev for ev in call.feed.events if ev.kind == "alert"))
    assert 'class="line line-alert"' in line and "cancel my account" in line
