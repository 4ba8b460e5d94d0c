"""LLM replies as text deltas for a `SpeechHandle` (tool calls are the flow's job); history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from callcenter.rooms.clock import Clock
from callcenter.speech.base import LLM, ChatMessage

if TYPE_CHECKING:
    from callcenter.voice.speech import SpeechHandle


async def llm_text(
    llm: LLM, messages: Sequence[ChatMessage], clock: Clock, handle: SpeechHandle
) -> AsyncIterator[str]:
    """Yield the reply's text deltas; record time to first token on `handle`."""
    t0 = clock.now()
    stream = llm.chat(list(messages))
    try:
        async for chunk in stream:
            if chunk.text:
                if handle.llm_ttft_ms is None:
                    handle.llm_ttft_ms = 1000.0 * (clock.now() - t0)
                yield chunk.text
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def last_user_text(history: Sequence[ChatMessage]) -> str:
    for msg in reversed(history):
        if msg.role == "user":
            return msg.content
    return ""


def drop_last_user_message(history: list[ChatMessage]) -> None:
    for i in range(len(history) - 1, -1, -1):
        if history[i].role == "user":
            del history[i]
            return
