"""Live calls: a provider error no retry can fix (401, 403, 404) is not retried.

The real OpenAI SDK against the fake server: after such an answer the provider is left
alone for the longest backoff and is not even a last resort, so the next turns of the call
(and other calls in the process) do not send it the same doomed request again.
"""

from __future__ import annotations

import pytest

from callcenter.speech import ChatMessage, SpeechError
from callcenter.speech.errors import FailureReason
from callcenter.speech.llm.fallback import FallbackLLM
from callcenter.speech.vendors.openai import OpenAILLM
from callcenter.testing.cloud.faults import Fault, FaultKind
from callcenter.testing.cloud.openai_fake import FakeOpenAI, ScriptedReply

KEY = "sk-test-fake-openai-key-0123456789"


async def _say(llm: FallbackLLM) -> str:
    return "".join([c.text async for c in llm.chat([ChatMessage("user", "hi")])])


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_permanent_error_sends_the_next_turns_to_the_fallback_only(status: int) -> None:
    async with FakeOpenAI(KEY) as a, FakeOpenAI(KEY) as b:
        a.inject(Fault(FaultKind.STATUS, status=status, times=-1))
        b.script.extend([ScriptedReply(text="One."), ScriptedReply(text="Two.")])
        llm = FallbackLLM([OpenAILLM(api_key=KEY, base_url=a.url),
                           OpenAILLM(api_key=KEY, base_url=b.url)], stall_timeout=0.5)
        assert await _say(llm) == "One."
        health = llm.pool.health[0]
        assert health.last_permanent
        assert health.unhealthy_until - health._clock() > 59  # the longest backoff
        assert llm.pool.candidates() == [1]  # not even a last resort
        assert await _say(llm) == "Two."
        assert a.requests == 1 and b.requests == 2
        await llm.aclose()


async def test_permanent_error_on_the_only_provider_is_sent_once() -> None:
    async with FakeOpenAI(KEY) as a:
        a.inject(Fault(FaultKind.STATUS, status=404, times=-1))
        llm = FallbackLLM([OpenAILLM(api_key=KEY, base_url=a.url)], stall_timeout=0.5)
        for _ in range(3):
            with pytest.raises(SpeechError, match="every provider failed"):
                await _say(llm)
        assert a.requests == 1
        assert llm.pool.health[0].last_reason is FailureReason.BAD_REQUEST
        await llm.aclose()


async def test_a_server_error_is_still_tried_again_as_a_last_resort() -> None:
    async with FakeOpenAI(KEY) as a:
        a.inject(Fault(FaultKind.STATUS, status=503, times=1))
        llm = FallbackLLM([OpenAILLM(api_key=KEY, base_url=a.url)], stall_timeout=0.5)
        with pytest.raises(SpeechError):
            await _say(llm)
        assert not llm.pool.health[0].last_permanent
        assert await _say(llm) == "You said: hi"  # unhealthy, but the only one: tried
        assert a.requests == 2
        await llm.aclose()
