"""The LLM fallback adapter: the first provider that starts answering in time wins.

See `callcenter.speech.fallback` for how providers are abandoned, backed off and probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from callcenter.speech.errors import SpeechError
from callcenter.speech.fallback import ProviderPool, as_speech_error, close_quietly, stall_error
from callcenter.speech.health import Probe
from callcenter.speech.llm.base import LLM, ChatMessage, LLMChunk, LLMOptions, ToolSpec


class FallbackLLM(LLM):
    """Streams from the first provider that produces a first chunk within `stall_timeout`."""

    name = "fallback-llm"

    def __init__(
        self,
        providers: Sequence[LLM],
        *,
        stall_timeout: float = 2.0,
        probes: Sequence[Probe | None] | None = None,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.pool: ProviderPool[LLM] = ProviderPool(
            "llm", providers, probes=probes, base_backoff=base_backoff, max_backoff=max_backoff
        )
        self.stall_timeout = stall_timeout
        self.active: str | None = None  # who answered last (for metrics and logs)

    async def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        options: LLMOptions | None = None,
    ) -> AsyncIterator[LLMChunk]:
        errors: list[str] = []
        for i in self.pool.candidates():
            provider, health = self.pool.providers[i], self.pool.health[i]
            it = provider.chat(messages, tools=tools, options=options).__aiter__()
            try:
                first = await asyncio.wait_for(anext(it), self.stall_timeout)
            except StopAsyncIteration:
                health.mark_ok()
                return
            except TimeoutError:
                err: SpeechError = stall_error(health.name, "first token", self.stall_timeout)
            except Exception as exc:
                err = as_speech_error(health.name, exc)
            else:
                health.mark_ok()
                self.active = health.name
                yield first
                try:
                    async for chunk in it:
                        yield chunk
                except Exception as exc:
                    # Text already went to the caller; replaying elsewhere would repeat it.
                    err = as_speech_error(health.name, exc)
                    health.mark_failed(err)
                    raise err from None
                return
            health.mark_failed(err)
            errors.append(str(err))
            close_quietly(it)
        raise self.pool.all_failed(errors)

    async def aclose(self) -> None:
        await self.pool.aclose()
