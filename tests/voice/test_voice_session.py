"""VoiceSession with scripted callers on a LocalRoom (virtual time, real Silero VAD).

The test plays the agent with `say` (`Call.answer` says the next line after every turn):
these are voice behaviours and need no LLM. Turns answered by the LLM through the flow are
in test_voice_agent_turns.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import Clock
from callcenter.speech import SpeechError
from callcenter.voice import (
    AgentInterrupted,
    DtmfInput,
    EndpointingSettings,
    InterruptionSettings,
    ParticipantGone,
    UserTurn,
    VoiceSettings,
)

# The `make_call` fixture (conftest.py) returns a `Call`; conftest is not importable here.
MakeCall = Callable[..., Any]

LONG_REPLY = (
    "Sure, I can help with that. Your order shipped yesterday and should arrive "
    "on Thursday, and you will get a text message when it is out for delivery."
)


async def words(text: str, clock: Clock, *, first: float = 0.0, gap: float = 0.0,
                fail_after: int | None = None) -> AsyncIterator[str]:
    """Text deltas as an LLM streams them: the first word after `first` s, then `gap` s apart."""
    await clock.sleep(first)
    for i, tok in enumerate(text.split(" ")):
        if fail_after is not None and i == fail_after:
            raise SpeechError("fake-llm", "connection reset")
        if i and gap:
            await clock.sleep(gap)
        yield tok if i == 0 else " " + tok


async def test_barge_in_stops_agent_and_stores_only_the_heard_text(make_call: MakeCall) -> None:
    call = make_call()
    await call.session.start()
    call.answer([LONG_REPLY, "Okay, connecting you."])
    rep = await call.play("""
turns:
  - say: "where is my order"
  - say: "no, put me through to a person"
    barge_in_after: 1.5
  - wait: agent_done
""")
    interrupted = [u for u in call.utterances if u.role == "agent" and u.interrupted]
    assert len(interrupted) == 1
    u = interrupted[0]
    assert u.planned_text == LONG_REPLY
    assert u.text and LONG_REPLY.startswith(u.text) and len(u.text) < len(LONG_REPLY) // 2
    # The caller heard agent audio stop within 40 ms of the minimum interruption time.
    onset = rep.said[1].speech_start_ms
    reply = rep.agent[0]
    stop = reply.end_ms
    assert -1 <= stop - onset - 300 <= 40, stop - onset
    # Heard text matches what was played: about 1.5 s + 0.3 s of speech at ~60 ms/letter.
    assert u.end_ms - u.start_ms == pytest.approx(stop - reply.start_ms, abs=25)
    # The caller's first turn, then the interruption (with what was heard), then their turn.
    assert [type(e) for e in call.events] == [UserTurn, AgentInterrupted, UserTurn]
    ev = call.events[1]
    assert isinstance(ev, AgentInterrupted) and ev.heard_text == u.text
    assert ev.planned_text == LONG_REPLY


async def test_false_interruption_resumes_the_reply(make_call: MakeCall) -> None:
    settings = VoiceSettings(
        input_rate=8000, interruption=InterruptionSettings(false_interruption_timeout=0.8),
    )
    call = make_call(settings=settings)
    await call.session.start()
    call.answer(LONG_REPLY)
    rep = await call.play("""
turns:
  - say: "where is my order"
  - noise: 0.6
    barge_in_after: 1.0
  - wait: agent_done
""")
    agent = [u for u in call.utterances if u.role == "agent"]
    assert len(agent) == 1 and not agent[0].interrupted
    assert agent[0].text == LONG_REPLY
    # The caller heard the agent stop (paused) and then go on.
    assert len(rep.agent) == 2
    gap = rep.agent[1].start_ms - rep.agent[0].end_ms
    assert 700 <= gap <= 1400, gap
    assert not [u for u in call.utterances if u.role == "caller" and not u.text]


async def test_uninterruptible_prompt_plays_to_the_end_and_records_caller(
    make_call: MakeCall,
) -> None:
    call = make_call()
    await call.session.start()
    prompt = "This call may be recorded for quality and training purposes, thank you."
    handle = call.session.say(prompt, interruptible=False)
    rep = await call.play("""
turns:
  - say: "hello hello can you hear me"
    barge_in_after: 0.5
  - wait: 3
""")
    await handle.wait()
    assert not handle.interrupted
    agent = [u for u in call.utterances if u.role == "agent"]
    assert agent[0].text == prompt and not agent[0].interrupted
    assert len(rep.agent) == 1  # never stopped
    caller = [u for u in call.utterances if u.role == "caller"]
    assert caller[0].text == "hello hello can you hear me"
    ev = await call.session.next_event(0)
    assert isinstance(ev, UserTurn) and ev.overlapped_agent


async def test_dtmf_digits_arrive_as_events_and_answer_ask(make_call: MakeCall) -> None:
    call = make_call()
    await call.session.start()
    caller = call.caller("""
turns:
  - wait: agent_done
  - dtmf: "48#"
""")
    task = asyncio.get_running_loop().create_task(caller.run())
    ev = await call.session.ask("Please enter your account number.", timeout=5)
    assert ev == DtmfInput("caller", "4")
    assert await call.session.next_event(1) == DtmfInput("caller", "8")
    assert await call.session.next_event(1) == DtmfInput("caller", "#")
    await task
    assert await call.session.next_event(0.5) is None  # timeout


async def test_unfinished_utterance_waits_for_the_rest(make_call: MakeCall) -> None:
    settings = VoiceSettings(input_rate=8000, endpointing=EndpointingSettings(0.4, 2.5))
    call = make_call(settings=settings)
    await call.session.start()
    call.answer()
    await call.play("""
turns:
  - say: "my account number is"
  - wait: 1.0
  - say: "four eight two nine one three"
  - wait: agent_done
""")
    caller = [u.text for u in call.utterances if u.role == "caller"]
    assert caller == ["my account number is four eight two nine one three"]


async def test_speech_while_thinking_drops_the_reply_unheard(make_call: MakeCall) -> None:
    call = make_call()
    await call.session.start()
    turn = call.caller("""
turns:
  - say: "I need to change"
  - wait: 0.7
  - say: "the delivery address for my order"
  - wait: 3
""")
    task = asyncio.get_running_loop().create_task(turn.run())
    first = await call.session.next_event(10)
    assert isinstance(first, UserTurn) and first.text == "I need to change"
    # An LLM that takes 1.5 s to its first word: the caller goes on before it speaks.
    thinking = call.session.say(words("Okay.", call.clock, first=1.5))
    second = await call.session.next_event(10)
    assert isinstance(second, UserTurn) and second.text == "the delivery address for my order"
    assert thinking.done() and thinking.interrupted and not thinking.started
    # The dropped reply was never heard: it is no utterance and no AgentInterrupted event.
    assert await call.session.next_event(0) is None
    call.session.say("Okay.")
    rep = await task
    assert [u.text for u in call.utterances if u.role == "agent"] == ["Okay."]
    assert len(rep.agent) == 1


async def test_streamed_text_reaches_tts_clause_by_clause(make_call: MakeCall) -> None:
    call = make_call()
    await call.session.start()
    caller = call.caller("turns:\n  - wait: 20\n")
    task = asyncio.get_running_loop().create_task(caller.run())
    t0 = call.clock.now()
    handle = call.session.say(words(LONG_REPLY, call.clock, gap=0.1))
    await handle.wait()
    assert handle.first_audio_at is not None
    n_tokens = len(LONG_REPLY.split())
    # First audio after the first clause (a handful of tokens), not after the whole reply.
    assert handle.first_audio_at - t0 < 0.1 * 8
    assert n_tokens * 0.1 > 2.0
    assert call.tts.segments >= 3
    task.cancel()


async def test_a_streamed_source_reports_its_time_to_first_text(make_call: MakeCall) -> None:
    call = make_call()
    await call.session.start()
    streamed = call.session.say(words("One moment please.", call.clock, first=0.35))
    await streamed.wait()
    assert streamed.llm_ttft_ms == pytest.approx(350, abs=1)
    plain = call.session.say("Thanks.")
    await plain.wait()
    assert plain.llm_ttft_ms is None  # a fixed text has no model behind it


async def test_listen_only_transcribes_two_speakers_with_labels(make_call: MakeCall) -> None:
    call = make_call()
    await call.session.start()
    call.answer("I should not be heard either")  # an agent that answers every turn
    await call.session.set_listen_only(True)
    handle = call.session.say("I should not be heard")
    assert handle.done() and handle.interrupted
    caller = call.caller("""
turns:
  - say: "my package never arrived"
  - wait: 2.5
  - say: "yes it was the blue box"
  - wait: 1
""")
    sup = call.caller("""
identity: sup-1
channel: wideband
turns:
  - wait: 2.2
  - say: "I am sorry about that, was it the blue box"
  - wait: 3
""", kind=ParticipantKind.SUPERVISOR)
    reps = await asyncio.gather(caller.run(), sup.run())
    spoken = [(u.role, u.identity, u.text) for u in call.utterances]
    assert spoken == [
        ("caller", "caller", "my package never arrived"),
        ("supervisor", "sup-1", "I am sorry about that, was it the blue box"),
        ("caller", "caller", "yes it was the blue box"),
    ]
    assert all(not r.agent for r in reps)  # the agent never spoke
    assert next(m[2] for m in call.room.messages if m[1] == "lk.transcription") == (
        "caller: my package never arrived"
    )


async def test_min_words_keeps_the_agent_talking_through_wordless_noise(
    make_call: MakeCall,
) -> None:
    settings = VoiceSettings(
        input_rate=8000, interruption=InterruptionSettings(min_words_speaking=2),
    )
    call = make_call(settings=settings)
    await call.session.start()
    call.answer(LONG_REPLY)
    rep = await call.play("""
turns:
  - say: "where is my order"
  - noise: 0.8
    barge_in_after: 1.0
  - wait: agent_done
""")
    assert len(rep.agent) == 1  # never paused: noise has no words
    agent = [u for u in call.utterances if u.role == "agent"]
    assert agent[0].text == LONG_REPLY and not agent[0].interrupted


async def test_caller_hangup_ends_the_participant_and_agent_audio_is_recorded(
    make_call: MakeCall,
) -> None:
    call = make_call()
    await call.session.start()
    call.session.say("Hello, thanks for calling.")
    caller = call.caller("""
turns:
  - wait: agent_done
  - hangup: true
""", keep_audio=True)
    rep = await caller.run()
    seg = rep.agent[0]
    audio = seg.audio(8000)
    assert abs(audio.duration_ms - (seg.end_ms - seg.start_ms)) <= 20
    assert rep.hung_up_ms is not None and rep.hung_up_ms >= seg.end_ms
    events = [await call.session.next_event(0) for _ in range(1)]
    assert events == [ParticipantGone("caller")]


async def test_a_key_press_stops_an_interruptible_prompt(make_call: MakeCall) -> None:
    call = make_call()
    await call.session.start()
    handle = call.session.say(LONG_REPLY)
    rep = await call.play("""
turns:
  - dtmf: "1"
    barge_in_after: 0.5
  - wait: 1
""")
    await handle.wait()
    assert handle.interrupted and LONG_REPLY.startswith(handle.heard_text)
    assert rep.agent[0].end_ms - rep.agent[0].start_ms < 700


async def test_a_failing_utterance_hook_does_not_break_the_call(make_call: MakeCall) -> None:
    call = make_call()
    seen: list[str] = []

    def broken(_: object) -> None:
        raise RuntimeError("database is down")

    call.session.on_utterance(broken)
    call.session.on_utterance(lambda u: seen.append(u.text))
    await call.session.start()
    call.answer("Sure.")
    await call.play("""
turns:
  - say: "check my order"
  - wait: agent_done
""")
    assert seen == ["check my order", "Sure."]


async def test_a_caller_who_rejoins_is_heard_again(make_call: MakeCall) -> None:
    call = make_call()
    await call.session.start()
    call.answer("Welcome back.")
    await call.play("""
turns:
  - say: "check my order"
  - wait: agent_done
  - hangup: true
""")
    await call.clock.sleep(0.5)
    await call.play("""
turns:
  - say: "I got cut off"
  - wait: agent_done
""")
    caller = [u.text for u in call.utterances if u.role == "caller"]
    assert caller == ["check my order", "I got cut off"]


async def test_a_text_source_failing_mid_reply_speaks_what_arrived_and_reports_it(
    make_call: MakeCall,
) -> None:
    call = make_call()
    await call.session.start()
    handle = call.session.say(words("Let me check that. One moment", call.clock, fail_after=4))
    await handle.wait()
    assert isinstance(handle.error, SpeechError)
    assert [u.text for u in call.utterances] == ["Let me check that."]
