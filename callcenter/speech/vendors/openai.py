"""OpenAI chat completions (streamed, with tool calls) as an `LLM`, through the `openai` SDK.

Works with api.openai.com and any server speaking the same API (`base_url`). The SDK's own
retries are off (`max_retries=0`): retrying is the fallback adapter's job, which knows about
stalls and Retry-After and can switch provider instead of waiting.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import openai

from callcenter.speech.errors import FailureReason, ProviderError, error_for_status, mask_secrets
from callcenter.speech.llm.base import (
    LLM,
    ChatMessage,
    LLMChunk,
    LLMOptions,
    ToolCall,
    ToolSpec,
    Usage,
)
from callcenter.speech.usage import LLMMetrics, UsageRecorder, report

ENV_VAR = "OPENAI_API_KEY"


class OpenAILLM(LLM):
    """Streamed chat with tool calls; model and temperature per call via `LLMOptions`."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        model: str = "gpt-4o-mini",
        temperature: float | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        recorder: UsageRecorder | None = None,
    ) -> None:
        if not api_key:
            raise ProviderError(
                self.name, f"no API key: set {ENV_VAR}", reason=FailureReason.AUTH
            )
        self._key = api_key
        self.model = model
        self.temperature = temperature
        self.recorder = recorder
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=openai.Timeout(read_timeout, connect=connect_timeout),
            max_retries=0,
        )

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        options: LLMOptions | None = None,
    ) -> OpenAIChatStream:
        return OpenAIChatStream(self, list(messages), list(tools), options or LLMOptions())

    async def probe(self) -> None:
        """Cheapest authenticated request: list models (one page)."""
        try:
            await self._client.models.list()
        except openai.APIError as exc:
            raise self.map_error(exc) from None

    async def check_model(self, model: str | None = None) -> None:
        """Fetch one model: checks the key, the server and that the model exists."""
        try:
            await self._client.models.retrieve(model or self.model)
        except openai.APIError as exc:
            raise self.map_error(exc) from None

    def map_error(self, exc: BaseException, *, streaming: bool = False) -> ProviderError:
        """Classify an SDK/transport exception; the message never carries the key.

        `streaming`: the response had started, so a transport error means a dropped stream.
        """
        if isinstance(exc, openai.APIStatusError):
            return error_for_status(
                self.name, ENV_VAR, exc.status_code, exc.message,
                headers=dict(exc.response.headers), secrets=[self._key],
            )
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(self.name, "request timed out", reason=FailureReason.STALL)
        if isinstance(exc, openai.APIConnectionError) and not streaming:
            cause = mask_secrets(str(exc.__cause__ or exc), [self._key])
            return ProviderError(
                self.name, f"cannot reach the server: {cause}", reason=FailureReason.CONNECT
            )
        detail = mask_secrets(f"{type(exc).__name__}: {exc}", [self._key])
        return ProviderError(
            self.name, f"stream broke mid-reply ({detail})", reason=FailureReason.DROPPED
        )

    async def aclose(self) -> None:
        await self._client.close()


def _message_to_wire(m: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        out["content"] = m.content or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    if m.role == "tool":
        out["tool_call_id"] = m.tool_call_id
    if m.name and m.role in ("user", "system"):
        out["name"] = m.name
    return out


def _tool_to_wire(t: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
    }


class OpenAIChatStream(AsyncIterator[LLMChunk]):
    """One streamed completion. `metrics` holds TTFT and token usage once it has run."""

    def __init__(
        self, llm: OpenAILLM, messages: list[ChatMessage], tools: list[ToolSpec], opts: LLMOptions
    ) -> None:
        self._llm = llm
        self._messages = messages
        self._tools = tools
        self._opts = opts
        self.metrics = LLMMetrics(provider=llm.name, model=opts.model or llm.model)
        self._gen = self._run()

    def __aiter__(self) -> OpenAIChatStream:
        return self

    async def __anext__(self) -> LLMChunk:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()

    async def _run(self) -> AsyncGenerator[LLMChunk, None]:
        llm, opts = self._llm, self._opts
        kwargs: dict[str, Any] = {
            "model": self.metrics.model,
            "messages": [_message_to_wire(m) for m in self._messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        temperature = opts.temperature if opts.temperature is not None else llm.temperature
        if temperature is not None:
            kwargs["temperature"] = temperature
        if opts.max_tokens is not None:
            kwargs["max_completion_tokens"] = opts.max_tokens
        if self._tools:
            kwargs["tools"] = [_tool_to_wire(t) for t in self._tools]
        started = time.monotonic()
        # index -> [id, name, argument fragments]: tool calls arrive as deltas keyed by index.
        pending: dict[int, list[Any]] = {}
        streaming = False
        try:
            stream = await llm._client.chat.completions.create(**kwargs)
            streaming = True
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        self.metrics.prompt_tokens = chunk.usage.prompt_tokens
                        self.metrics.completion_tokens = chunk.usage.completion_tokens
                        yield LLMChunk(usage=Usage(
                            chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                        ))
                    for choice in chunk.choices:
                        delta = choice.delta
                        if self.metrics.ttft_s is None and (delta.content or delta.tool_calls):
                            self.metrics.ttft_s = time.monotonic() - started
                        for tc in delta.tool_calls or ():
                            slot = pending.setdefault(tc.index, ["", "", []])
                            if tc.id:
                                slot[0] = tc.id
                            if tc.function and tc.function.name:
                                slot[1] += tc.function.name
                            if tc.function and tc.function.arguments:
                                slot[2].append(tc.function.arguments)
                        if delta.content:
                            yield LLMChunk(text=delta.content)
                        if choice.finish_reason is not None:
                            for call in self._drain(pending):
                                yield LLMChunk(tool_call=call)
            for call in self._drain(pending):
                yield LLMChunk(tool_call=call)
        except ProviderError:
            raise
        except Exception as exc:  # the SDK's transport (httpx2) raises its own types
            raise llm.map_error(exc, streaming=streaming) from None
        finally:
            self.metrics.duration_s = time.monotonic() - started
            report(self.metrics, llm.recorder)

    def _drain(self, pending: dict[int, list[Any]]) -> list[ToolCall]:
        calls = []
        for index in sorted(pending):
            call_id, name, parts = pending[index]
            arguments = "".join(parts) or "{}"
            try:
                json.loads(arguments)
            except json.JSONDecodeError:
                raise ProviderError(
                    self._llm.name,
                    f"tool call {name!r} has arguments that are not JSON: {arguments[:80]!r}",
                    reason=FailureReason.PROTOCOL,
                ) from None
            calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
        pending.clear()
        return calls
