"""One conversation: the LLM's history holds what the caller heard, the record keeps both."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.callsession import CallSession, CallSetup, SqlRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.flow.validate import check_flow_text
from callcenter.models import Utterance
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeLLM, FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import VoiceSettings

FLOW = """
name: llm_only
start: helper
nodes:
  helper:
    type: agent
    greeting: Hello, how can I help?
    instructions: You are a helpful assistant.
    use_llm: true
    max_turns: 5
    on_max_turns: bye
  bye:
    type: hangup
    say: Goodbye.
"""

LONG_REPLY = ("Your invoice of forty two dollars was paid on the third of November and the "
              "next one is due on the third of December and you can pay it by card or by "
              "bank transfer whichever you prefer and there is no fee for either of them.")



async def test_barge_in_during_llm_reply_leaves_only_heard_words_in_next_llm_request(
    clock: VirtualClock, sqlite_engine: Engine
) -> None:
    flow, problems = check_flow_text(FLOW, "llm_only.yaml")
    assert flow is not None, problems
    room = LocalRoom("call-heard", clock=clock)
    board = SpeechBoard()
    script = CallerScript.from_yaml(
        """
        voice: espeak
        channel: phone
        turns:
          - wait: agent_done
          - say: "what about my invoice"
          - say: "stop, I only need the amount"
            barge_in_after: 1.5
          - wait: agent_done
          - hangup: true
        """
    )
    caller = ScriptedCaller(room, script, board=board)
    llm = FakeLLM([LONG_REPLY, "It was forty two dollars."], clock=clock,
                  token_interval=0.01)
    session = CallSession(CallSetup(
        room=room,
        info=CallInfo(call_id="c-heard", room_name=room.name, caller_number="+15550001111"),
        flow=flow, stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=SqlRecorder(sqlite_engine, clock=clock), llm=llm,
        voice_settings=VoiceSettings(input_rate=8000), clock=clock,
        http=httpx.AsyncClient(),
    ))
    run = asyncio.ensure_future(session.run())
    await caller.run()
    await asyncio.wait_for(run, 10)

    assert len(llm.requests) >= 2, "the caller's barge-in got a second LLM turn"
    second = llm.requests[1]
    assistant = [m.content for m in second if m.role == "assistant"]
    cut = [c for c in assistant if "forty two dollars" in c]
    assert cut, f"the interrupted reply is in the history: {assistant}"
    heard = cut[-1]
    assert heard != LONG_REPLY and len(heard) < len(LONG_REPLY) / 2, heard
    assert LONG_REPLY.startswith(heard.rstrip(".,")), "history holds a prefix: what was heard"
    assert "bank transfer" not in " ".join(assistant), "unheard words never reach the LLM"
    assert [m.content for m in second if m.role == "user"][-1].startswith("stop")

    with Session(sqlite_engine) as s:
        rows = s.exec(select(Utterance).where(Utterance.call_id == "c-heard",
                                              Utterance.speaker_role == "agent")).all()
    interrupted = [u for u in rows if u.interrupted]
    assert interrupted, "the transcript marks the interrupted reply"
    # The row keeps what was planned (`text`) and what the caller heard (`heard_text`).
    assert interrupted[0].text.strip() == LONG_REPLY
    assert (interrupted[0].heard_text or "").strip() == heard
    room.close()
