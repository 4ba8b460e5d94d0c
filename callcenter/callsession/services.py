"""Side effects a flow asks for that are not audio: webhooks, intents, escalation, LLM turns."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx

from callcenter.flow.actions import AgentTurn, CallWebhook, Escalate
from callcenter.flow.events import (
    AgentReply,
    EscalationResult,
    ToolCallRequest,
    WebhookResult,
)
from callcenter.speech.base import LLM, LLMOptions, ToolCall


class IntentMatcher(Protocol):
    def classify(self, text: str) -> tuple[str | None, float]: ...


IntentFactory = Callable[[Mapping[str, Sequence[str]], float], IntentMatcher]


class IntentCache:
    """One classifier per distinct intent set: embedding the examples is the slow part."""

    def __init__(self, factory: IntentFactory) -> None:
        self._factory = factory
        self._cache: dict[str, IntentMatcher] = {}

    def get(self, intents: Mapping[str, Sequence[str]], threshold: float) -> IntentMatcher:
        key = json.dumps([sorted((k, list(v)) for k, v in intents.items()), threshold])
        matcher = self._cache.get(key)
        if matcher is None:
            matcher = self._cache[key] = self._factory(intents, threshold)
        return matcher


def minilm_intents(intents: Mapping[str, Sequence[str]], threshold: float) -> IntentMatcher:
    """The offline MiniLM classifier (needs the `local` extra)."""
    from callcenter.speech.intents import IntentClassifier

    return IntentClassifier(intents, threshold=threshold)


async def call_webhook(action: CallWebhook, client: httpx.AsyncClient) -> WebhookResult:
    """Make the flow's HTTP request; every failure becomes a WebhookResult, never an exception."""
    rid = action.request_id
    try:
        response = await client.request(
            action.method,
            action.url,
            headers=action.headers,
            json=action.body if action.method.upper() not in ("GET", "DELETE") else None,
            params=action.body if action.method.upper() == "GET" and action.body else None,
            timeout=action.timeout,
        )
    except httpx.TimeoutException:
        return WebhookResult(request_id=rid, ok=False, error=f"timed out after {action.timeout}s")
    except httpx.HTTPError as exc:
        return WebhookResult(request_id=rid, ok=False, error=f"{type(exc).__name__}: {exc}")
    data: Any
    try:
        data = response.json()
    except ValueError:
        data = response.text[:2000]
    ok = 200 <= response.status_code < 300
    return WebhookResult(
        request_id=rid, ok=ok, status=response.status_code, data=data,
        error=None if ok else f"HTTP {response.status_code}",
    )


class EscalationBroker(Protocol):
    """Puts a call in a supervisor queue and reports how it went."""

    async def request(self, call_id: str, action: Escalate) -> EscalationResult: ...


class NoSupervisors:
    """The embedded default has no supervisor console yet: nobody can take the call.

    The flow then follows its `unavailable` route at once, instead of leaving the caller
    on hold for the whole timeout.
    """

    async def request(self, call_id: str, action: Escalate) -> EscalationResult:
        return EscalationResult(outcome="unavailable", note="no supervisor is online")


async def run_agent_turn(
    llm: LLM,
    action: AgentTurn,
    on_text: Callable[[str], None],
    *,
    options: LLMOptions | None = None,
    timeout: float = 20.0,
) -> AgentReply:
    """One LLM turn: text deltas go to `on_text` as they arrive, tool calls are collected."""
    text: list[str] = []
    calls: list[ToolCall] = []

    async def consume() -> None:
        async for chunk in llm.chat(
            action.chat_messages(), tools=action.tool_specs(), options=options
        ):
            if chunk.text:
                text.append(chunk.text)
                on_text(chunk.text)
            if chunk.tool_call is not None:
                calls.append(chunk.tool_call)

    await asyncio.wait_for(consume(), timeout)
    return AgentReply(text="".join(text), tool_calls=[_tool_request(c) for c in calls])


def _tool_request(call: ToolCall) -> ToolCallRequest:
    try:
        args = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        args = {"_raw": call.arguments}
    return ToolCallRequest(
        id=call.id, name=call.name, arguments=args if isinstance(args, dict) else {"value": args}
    )
