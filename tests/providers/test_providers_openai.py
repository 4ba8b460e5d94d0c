"""OpenAILLM against the fake OpenAI server, through the real `openai` SDK."""

from __future__ import annotations

import json
import logging

import pytest

from callcenter.speech import ChatMessage, LLMChunk, LLMOptions, ToolSpec
from callcenter.speech.errors import FailureReason, ProviderError
from callcenter.speech.usage import LLMMetrics, UsageRecorder
from callcenter.speech.vendors.openai import OpenAILLM
from callcenter.testing.cloud.faults import Fault, FaultKind
from callcenter.testing.cloud.openai_fake import FakeOpenAI, ScriptedReply

KEY = "sk-test-fake-openai-key-0123456789"
TOOL = ToolSpec("lookup_order", "Find an order", {
    "type": "object", "properties": {"order_id": {"type": "string"}}})


async def collect(llm: OpenAILLM, text: str = "hello", **kw: object) -> list[LLMChunk]:
    return [c async for c in llm.chat([ChatMessage("user", text)], **kw)]  # type: ignore[arg-type]


async def test_streams_text_tool_calls_and_usage_with_per_call_options() -> None:
    async with FakeOpenAI(KEY) as srv:
        srv.script.append(ScriptedReply(text="Let me check.", tool_calls=[
            ("lookup_order", {"order_id": "A-1234", "detail": "full"})]))
        recorder = UsageRecorder()
        llm = OpenAILLM(api_key=KEY, base_url=srv.url, recorder=recorder)
        chunks = await collect(llm, "where is my order?", tools=[TOOL],
                               options=LLMOptions(model="gpt-4o", temperature=0.2))
        await llm.aclose()
    assert "".join(c.text for c in chunks) == "Let me check."
    calls = [c.tool_call for c in chunks if c.tool_call]
    assert len(calls) == 1 and calls[0].name == "lookup_order" and calls[0].id == "call_0"
    assert json.loads(calls[0].arguments) == {"order_id": "A-1234", "detail": "full"}
    usage = [c.usage for c in chunks if c.usage]
    assert usage and usage[0].completion_tokens > 0 and usage[0].prompt_tokens == 4
    assert srv.last_request["model"] == "gpt-4o"
    assert srv.last_request["temperature"] == 0.2
    assert srv.last_request["tools"][0]["function"]["name"] == "lookup_order"
    assert srv.last_request["stream_options"] == {"include_usage": True}
    m = recorder.records[0]
    assert isinstance(m, LLMMetrics)
    assert m.kind == "llm" and m.ttft_s is not None and 0 < m.ttft_s < 1.0
    assert m.completion_tokens == usage[0].completion_tokens


async def test_tool_results_go_back_on_the_wire() -> None:
    from callcenter.speech import ToolCall
    async with FakeOpenAI(KEY) as srv:
        llm = OpenAILLM(api_key=KEY, base_url=srv.url)
        msgs = [ChatMessage("user", "order?"),
                ChatMessage("assistant", tool_calls=[ToolCall("call_0", "lookup_order", "{}")]),
                ChatMessage("tool", "shipped", tool_call_id="call_0")]
        _ = [c async for c in llm.chat(msgs)]
        await llm.aclose()
    wire = srv.last_request["messages"]
    assert wire[1]["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert wire[2] == {"role": "tool", "content": "shipped", "tool_call_id": "call_0"}


async def test_wrong_key_names_the_env_var_and_never_shows_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "sk-wrong-secret-key-abcdef0123456789"
    async with FakeOpenAI(KEY) as srv:
        llm = OpenAILLM(api_key=bad, base_url=srv.url)
        with pytest.raises(ProviderError) as info:
            await collect(llm)
        await llm.aclose()
    assert info.value.reason is FailureReason.AUTH
    assert "OPENAI_API_KEY" in str(info.value)
    assert bad not in str(info.value) and bad not in caplog.text


@pytest.mark.parametrize(("fault", "reason"), [
    (Fault(FaultKind.STATUS, status=429, retry_after=7), FailureReason.RATE_LIMITED),
    (Fault(FaultKind.STATUS, status=503), FailureReason.SERVER),
    (Fault(FaultKind.DROP, after=3), FailureReason.DROPPED),
])
async def test_http_failures_are_classified_and_masked(
    fault: Fault, reason: FailureReason, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeOpenAI(KEY) as srv:
        srv.inject(fault)
        llm = OpenAILLM(api_key=KEY, base_url=srv.url)
        with pytest.raises(ProviderError) as info:
            await collect(llm)
        await llm.aclose()
    assert info.value.reason is reason
    if reason is FailureReason.RATE_LIMITED:
        assert info.value.retry_after == 7
    assert KEY not in str(info.value) and KEY not in caplog.text


async def test_unreachable_server_is_a_connect_error() -> None:
    llm = OpenAILLM(api_key=KEY, base_url="http://127.0.0.1:9/v1", connect_timeout=0.5)
    with pytest.raises(ProviderError) as info:
        await collect(llm)
    await llm.aclose()
    assert info.value.reason is FailureReason.CONNECT


async def test_missing_key_is_refused_up_front() -> None:
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        OpenAILLM(api_key=None)
