"""The LLM interface: a chat history (and tools) in, a streamed reply out.

The flow runner and the post-call summary only see these types; cancel a reply by closing
its iterator (or cancelling its task).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model produced it


@dataclass(slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(slots=True, frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(slots=True)
class LLMChunk:
    """One streamed piece: a text delta, a finished tool call, or final usage."""

    text: str = ""
    tool_call: ToolCall | None = None
    usage: Usage | None = None


@dataclass(slots=True)
class LLMOptions:
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


class LLM(abc.ABC):
    name: str = "llm"

    @abc.abstractmethod
    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        options: LLMOptions | None = None,
    ) -> AsyncIterator[LLMChunk]:
        """Stream a reply. Cancel by closing the iterator (or cancelling its task)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release shared resources."""
