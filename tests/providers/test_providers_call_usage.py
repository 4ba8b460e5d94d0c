"""Per-call usage: provider streams report to the call whose task opened them."""

from __future__ import annotations

import asyncio

from callcenter.speech.usage import CALL_USAGE, LLMMetrics, UsageRecorder, report


async def test_metrics_go_to_the_call_that_opened_the_stream_and_the_provider() -> None:
    provider = UsageRecorder()

    async def call(tokens: int) -> UsageRecorder:
        mine = UsageRecorder()
        CALL_USAGE.set(mine)

        async def stream() -> None:  # a task the call spawns inherits its usage
            report(LLMMetrics(provider="openai", completion_tokens=tokens), provider)

        await asyncio.create_task(stream())
        return mine

    a, b = await asyncio.gather(call(5), call(7))
    assert a.totals()["llm:openai"]["completion_tokens"] == 5
    assert b.totals()["llm:openai"]["completion_tokens"] == 7
    assert provider.totals()["llm:openai"]["completion_tokens"] == 12
