"""Caller turns answered by the LLM the production way: CallSession -> flow agent node -> say.

The voice session keeps no conversation; the flow's history is the one the LLM sees. These
tests check the voice timing and barge-in behaviour on that path, and that what the
voice session reports (heard text, dropped replies, first-token time) reaches the flow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

# The `make_agent_call` fixture (conftest.py) returns an `AgentCall`.
MakeAgentCall = Callable[..., Any]

LONG_REPLY = (
    "Sure, I can help with that. Your order shipped yesterday and should arrive "
    "on Thursday, and you will get a text message when it is out for delivery."
)


async def test_turn_ends_after_min_delay_and_agent_answers_at_once(
    make_agent_call: MakeAgentCall,
) -> None:
    call = make_agent_call(replies="Let me check that for you.")
    call.start()
    rep = await call.play("""
turns:
  - say: "I want to check my order status"
  - wait: agent_done
""")
    line = rep.said[0]
    answer = rep.agent[0]
    # The flow runner's step and the CallSession's bookkeeping take no virtual time.
    overhead = answer.start_ms - line.speech_end_ms - 400.0
    assert -1 <= overhead <= 25, overhead
    user = [u for u in call.utterances if u.role == "caller"]
    assert [u.text for u in user] == ["I want to check my order status"]
    assert abs(user[0].end_ms - line.speech_end_ms) < 40
    m = call.voice.metrics[0]
    assert m.end_of_utterance_delay_ms == pytest.approx(400, abs=25)
    assert m.e2e_ms is not None and 390 <= m.e2e_ms <= 450
    agent = [u for u in call.utterances if u.role == "agent"]
    assert agent[0].text == "Let me check that for you." and not agent[0].interrupted
    assert call.llm.requests[0][-1].content == "I want to check my order status"


async def test_the_llm_first_token_time_reaches_the_turn_metrics(
    make_agent_call: MakeAgentCall,
) -> None:
    call = make_agent_call(replies="One moment.", llm_ttft=0.35)
    call.start()
    await call.play("""
turns:
  - say: "check my order"
  - wait: agent_done
""")
    m = call.voice.metrics[0]
    # Measured by the speech handle on its streamed text; CallSession does nothing special.
    assert m.llm_ttft_ms == pytest.approx(350, abs=25)
    assert m.e2e_ms is not None and m.e2e_ms >= 400 + 350


async def test_barge_in_stops_the_reply_and_the_llm_is_told_only_what_was_heard(
    make_agent_call: MakeAgentCall,
) -> None:
    call = make_agent_call(replies=[LONG_REPLY, "Okay, connecting you."])
    call.start()
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
    onset = rep.said[1].speech_start_ms
    assert -1 <= rep.agent[0].end_ms - onset - 300 <= 40
    second = call.llm.requests[-1]
    assert second[-1].content == "no, put me through to a person"
    assert second[-2].role == "assistant" and second[-2].content == u.text


async def test_speech_while_thinking_drops_the_reply_and_answers_the_caller_once(
    make_agent_call: MakeAgentCall,
) -> None:
    call = make_agent_call(replies="Okay.", llm_ttft=1.5)
    call.start()
    await call.play("""
turns:
  - say: "I need to change"
  - wait: 0.7
  - say: "the delivery address for my order"
  - wait: agent_done
""")
    # The first reply was dropped before a word of it played: only the second is heard.
    agent = [u for u in call.utterances if u.role == "agent"]
    assert [a.text for a in agent] == ["Okay."]
    assert call.llm.requests[-1][-1].content == "the delivery address for my order"
    said = [m.content for m in call.llm.requests[-1] if m.role == "user"]
    assert said == ["I need to change", "the delivery address for my order"]


async def test_a_reply_dropped_while_thinking_is_not_in_the_llm_history(
    make_agent_call: MakeAgentCall,
) -> None:
    call = make_agent_call(replies="Okay.", llm_ttft=1.5)
    call.start()
    await call.play("""
turns:
  - say: "I need to change"
  - wait: 0.7
  - say: "the delivery address for my order"
  - wait: agent_done
""")
    # The caller heard nothing of the first reply, so the model must not believe it said it.
    assert [m.role for m in call.llm.requests[-1]] == ["system", "user", "user"]
