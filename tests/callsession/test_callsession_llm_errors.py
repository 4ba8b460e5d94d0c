"""Any exception from the LLM provider takes the flow's provider-failure route, once logged.

A vendor SDK can raise its own exception types (or an adapter can have a bug); the caller
must get the same route as for a SpeechError, not a failed call. An exception in our own
code around the provider still propagates, so a bug of ours cannot pass as an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
import pytest

from callcenter.callsession.effects import IntentService, run_agent_turn
from callcenter.callsession.interpreter import Effects
from callcenter.callsession.text_session import TextSession
from callcenter.flow.actions import AgentTurn
from callcenter.flow.events import AgentReply, ProviderFailure
from callcenter.flow.validate import check_flow_text
from callcenter.speech import SpeechError
from callcenter.speech.llm.base import ChatMessage
from callcenter.testing.fakes import FakeLLM

FLOW = """
name: llm_errors
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


class VendorSDKError(Exception):
    """Stands for an exception type of a vendor SDK that our adapter did not translate."""


def _raising(error: Exception) -> FakeLLM:
    def respond(messages: Sequence[ChatMessage]) -> str:
        raise error

    return FakeLLM(respond)


def _failing_midway(error: Exception) -> FakeLLM:
    llm = FakeLLM("Let me check that for you.")
    chat = llm.chat

    async def broken_stream(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        async for chunk in chat(*args, **kwargs):  # type: ignore[arg-type]
            yield chunk
            raise error

    llm.chat = broken_stream  # type: ignore[method-assign]
    return llm


async def _walk(llm: FakeLLM) -> tuple[list[str], list[str], list[str]]:
    flow, problems = check_flow_text(FLOW, "llm_errors.yaml")
    assert flow is not None, problems
    async with httpx.AsyncClient() as http:
        session = TextSession(flow, Effects(http=http, llm=llm,
                                            intents=IntentService(prefer_minilm=False)))
        await session.start()
        turn = await session.send("my invoice looks wrong")
        assert not turn.ended and session.state.node == "helper"
        await session.aclose()
    return turn.said, turn.notes, session.state.path


@pytest.mark.parametrize("error", [
    VendorSDKError("unexpected response shape"),
    KeyError("choices"),
    TypeError("'NoneType' object is not subscriptable"),
])
async def test_any_provider_exception_takes_the_route_a_speech_error_takes(
    error: Exception,
) -> None:
    # An agent node whose LLM fails keeps the caller talking (no-match reprompt, intents).
    expected = await _walk(_raising(SpeechError("fake-llm", "server error (HTTP 503)")))
    assert "provider_failure" in expected[1]
    assert await _walk(_raising(error)) == expected


async def test_an_unexpected_provider_exception_is_logged_once_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    secret = "api_key=sk-abcdefghijklmnop1234"
    _, notes, _ = await _walk(_raising(VendorSDKError(f"bad payload, {secret}")))
    assert "provider_failure" in notes
    logged = [r for r in caplog.records if "VendorSDKError" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in caplog.records]
    text = logged[0].getMessage()
    assert "Traceback (most recent call last)" in text and "in respond" in text
    assert "sk-abcdefghijklmnop1234" not in text  # masked like every provider message


async def test_an_exception_after_the_first_chunk_is_a_provider_failure_too() -> None:
    action = AgentTurn(instructions="Be brief.", history=[])
    reply = await run_agent_turn(action, _failing_midway(VendorSDKError("stream reset")))
    assert isinstance(reply, ProviderFailure) and reply.component == "llm"
    assert reply.message == "fake-llm: VendorSDKError: stream reset"


async def test_a_bug_in_our_own_callback_is_not_taken_for_a_provider_failure() -> None:
    def on_text(delta: str) -> None:
        raise ZeroDivisionError("our bug")

    action = AgentTurn(instructions="Be brief.", history=[])
    with pytest.raises(ZeroDivisionError, match="our bug"):
        await run_agent_turn(action, FakeLLM("Hello there."), on_text=on_text)
    assert isinstance(await run_agent_turn(action, FakeLLM("Hello there.")), AgentReply)
