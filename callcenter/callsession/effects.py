"""Carrying out the runner's side-effect actions: intents, LLM turns, webhooks.

The runner stays pure (no IO in `flow/`); whoever hosts a call (`CallSession`, `callcenter
chat`) performs ClassifyIntent / AgentTurn / CallWebhook with these helpers and feeds the
resulting event back. Each has a timeout and turns failures into events, never exceptions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import traceback
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import httpx

from callcenter.flow import meaning
from callcenter.flow.actions import AgentTurn, CallWebhook, ClassifyIntent
from callcenter.flow.events import AgentReply, IntentResult, ProviderFailure, ToolCallRequest
from callcenter.flow.events import WebhookResult as WebhookResultEvent
from callcenter.flow.nodes import AgentNode, MenuNode
from callcenter.flow.schema import Flow
from callcenter.speech import LLM, SpeechError
from callcenter.speech.errors import mask_secrets
from callcenter.speech.llm.base import LLMChunk

log = logging.getLogger(__name__)

_STOP = {"a", "an", "the", "i", "i'm", "im", "my", "me", "to", "is", "it", "it's", "of", "and",
         "you", "your", "this", "that", "do", "can", "for", "with", "about", "please", "what"}


class KeywordIntents:
    """Fallback intent matcher by shared content words, used only when MiniLM is unavailable.

    Much weaker than embeddings (no synonyms); `callcenter chat` labels it clearly.
    """

    def __init__(self, examples: Mapping[str, Sequence[str]]) -> None:
        self.examples = {name: [self._words(e) for e in ex] for name, ex in examples.items()}

    @staticmethod
    def _words(text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z']+", text.lower()) if w not in _STOP}

    def classify(self, text: str, threshold: float) -> tuple[str | None, float]:
        said = self._words(text)
        best: tuple[str | None, float] = (None, 0.0)
        for name, examples in self.examples.items():
            for words in examples:
                if not words or not said:
                    continue
                score = len(said & words) / len(words)
                if score > best[1]:
                    best = (name, score)
        return best if best[1] >= threshold else (None, best[1])


class IntentService:
    """Classifies with MiniLM (`speech.intents`), else keywords; caches one model per intent set."""

    def __init__(self, *, prefer_minilm: bool = True) -> None:
        self.backend = "minilm" if prefer_minilm else "keywords"
        self._cache: dict[tuple[Any, ...], Any] = {}

    def warm_up(self) -> None:
        """Load the MiniLM encoder now (about 0.5 s) instead of on the first classification."""
        if self.backend != "minilm":
            return
        try:
            from callcenter.flow import meaning
            from callcenter.speech.offline.intents import example_vectors

            # The built-in examples every node's intent set shares, embedded once now.
            example_vectors([*meaning.HUMAN_EXAMPLES, *meaning.OTHER_EXAMPLES])
        except (ImportError, SpeechError, OSError):
            self.backend = "keywords"

    def warm_flow(self, flow: Flow) -> None:
        """Embed every example phrase `flow` can classify against now (blocking: ~7 ms a
        phrase), so no node's first spoken answer waits for it."""
        if self.backend != "minilm":
            return
        phrases: list[str] = []
        human = flow.handlers.human_request
        if human is not None:
            phrases += human.phrases
        for node in flow.nodes.values():
            if isinstance(node, MenuNode):
                for option in node.options:
                    phrases += [*option.phrases, *([option.value] if option.value else [])]
            elif isinstance(node, AgentNode):
                for intent in node.intents:
                    phrases += intent.examples
        try:
            from callcenter.speech.offline.intents import example_vectors

            example_vectors([p.strip() for p in phrases if p.strip()])
        except (ImportError, SpeechError, OSError):
            self.backend = "keywords"

    def _key(self, action: ClassifyIntent) -> tuple[Any, ...]:
        return (tuple((k, tuple(v)) for k, v in sorted(action.intents.items())),
                action.min_confidence)

    def classify(self, action: ClassifyIntent) -> IntentResult:
        """The IntentResult event answering `action` (blocking CPU work: ~20 ms)."""
        key = self._key(action)
        if self.backend == "minilm" and key not in self._cache:
            try:
                from callcenter.speech.offline.intents import IntentClassifier

                self._cache[key] = IntentClassifier(
                    action.intents, threshold=max(0.01, min(action.min_confidence, 0.99)))
            except (ImportError, SpeechError, OSError):
                self.backend = "keywords"
        if self.backend == "keywords":
            intent, score = KeywordIntents(action.intents).classify(
                action.text, max(action.min_confidence, 0.5))
            return IntentResult(intent=intent, confidence=score)
        m = self._cache[key].match(action.text)
        return IntentResult(intent=m.intent, confidence=m.confidence,
                            other=m.scores.get(meaning.OTHER, 0.0))


async def call_webhook(action: CallWebhook, client: httpx.AsyncClient) -> WebhookResultEvent:
    """Perform one webhook request; any failure becomes `ok=False` with the reason."""
    try:
        kwargs: dict[str, Any] = {"headers": action.headers, "timeout": action.timeout}
        if action.body is not None and action.method != "GET":
            kwargs["json"] = action.body
        elif action.body is not None:
            kwargs["params"] = {k: str(v) for k, v in dict(action.body).items()}
        response = await client.request(action.method, action.url, **kwargs)
    except httpx.TimeoutException:
        return WebhookResultEvent(request_id=action.request_id, ok=False,
                                  error=f"timed out after {action.timeout:g}s")
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        return WebhookResultEvent(request_id=action.request_id, ok=False,
                                  error=f"{type(exc).__name__}: {exc}")
    try:
        data: Any = response.json()
    except ValueError:
        data = response.text[:2000]
    ok = 200 <= response.status_code < 300
    return WebhookResultEvent(request_id=action.request_id, ok=ok, status=response.status_code,
                              data=data, error=None if ok else f"HTTP {response.status_code}")


class _ProviderRaised(Exception):
    """An exception from inside an LLM provider, carried out of our own reply handling."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _provider_chunks(llm: LLM, action: AgentTurn) -> AsyncIterator[LLMChunk]:
    """The provider's stream, with anything it raises (but a SpeechError) as _ProviderRaised.

    Only the provider's own calls sit inside the `try`: an exception from our code around
    them (building the messages, the `on_text` callback) still propagates, so a bug of ours
    fails its test instead of passing for a provider outage.
    """
    messages, tools = action.chat_messages(), action.tool_specs()
    try:
        stream = llm.chat(messages, tools=tools).__aiter__()
    except SpeechError:
        raise
    except Exception as exc:
        raise _ProviderRaised(exc) from exc
    while True:
        try:
            chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except SpeechError:
            raise
        except Exception as exc:
            raise _ProviderRaised(exc) from exc
        yield chunk


def _unexpected(llm: LLM, error: Exception) -> ProviderFailure:
    """A provider's unexpected exception (a vendor SDK's own type, a bug in an adapter).

    Logged here once with its traceback, masked like every provider message; the call then
    takes the flow's provider-failure route exactly as for a SpeechError.
    """
    trace = "".join(traceback.format_exception(error))
    log.error("llm %s raised %s (taking the provider-failure route):\n%s",
              llm.name, type(error).__name__, mask_secrets(trace))
    message = mask_secrets(f"{llm.name}: {type(error).__name__}: {error}")[:300]
    return ProviderFailure(component="llm", message=message)


async def run_agent_turn(
    action: AgentTurn,
    llm: LLM,
    *,
    timeout: float = 20.0,
    on_text: Callable[[str], None] | None = None,
    on_end: Callable[[], None] | None = None,
) -> AgentReply | ProviderFailure:
    """One LLM call over the action's history; provider failures become ProviderFailure(llm).

    Any exception the provider raises counts (a SpeechError, a timeout, or whatever a vendor
    SDK throws); an exception in our own code around it is not caught.
    `on_text` gets each text delta as it arrives, so speech can start before the reply ends;
    `on_end` is called the moment the stream ends, so a short reply's last clause is spoken
    without waiting for the bookkeeping after it.
    """

    async def collect() -> AgentReply:
        text: list[str] = []
        calls: list[ToolCallRequest] = []
        async for chunk in _provider_chunks(llm, action):
            text.append(chunk.text)
            if chunk.text and on_text is not None:
                on_text(chunk.text)
            if chunk.tool_call is not None:
                try:
                    args = json.loads(chunk.tool_call.arguments or "{}")
                except json.JSONDecodeError:
                    args = {"_raw": chunk.tool_call.arguments}
                calls.append(ToolCallRequest(id=chunk.tool_call.id, name=chunk.tool_call.name,
                                             arguments=args if isinstance(args, dict) else {}))
        if on_end is not None:
            on_end()
        return AgentReply(text="".join(text).strip(), tool_calls=calls)

    try:
        # Not wait_for: in Python 3.11 it runs collect() as one more task, a hop before the
        # first token on a busy worker.
        async with asyncio.timeout(timeout):
            return await collect()
    except TimeoutError:
        return ProviderFailure(component="llm", message=f"{llm.name}: no reply in {timeout:g}s")
    except SpeechError as exc:
        return ProviderFailure(component="llm", message=str(exc))
    except _ProviderRaised as raised:
        return _unexpected(llm, raised.error)
