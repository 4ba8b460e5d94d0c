"""Provider-neutral speech interfaces: streaming STT, streaming TTS, streamed LLM chat.

The voice session and the flow runner only ever see these types, so cloud providers,
offline engines and test fakes are interchangeable (and wrapped by the fallback adapter).
Every stream is cancellable: `aclose()` must stop work promptly and release resources.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from callcenter.audio.frame import AudioFrame


class SpeechError(Exception):
    """A provider failed. `provider` names it; `retryable` says whether a fallback should try."""

    def __init__(self, provider: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.retryable = retryable


# ---------------------------------------------------------------- speech-to-text


@dataclass(slots=True, frozen=True)
class Word:
    text: str
    start_ms: float
    end_ms: float
    confidence: float = 1.0


class TranscriptKind(StrEnum):
    INTERIM = "interim"
    FINAL = "final"
    # The provider's own end-of-utterance signal (e.g. Deepgram UtteranceEnd).
    END_OF_UTTERANCE = "end_of_utterance"


@dataclass(slots=True)
class Transcript:
    """A transcript event. Times are stream media times in ms (see AudioFrame)."""

    kind: TranscriptKind
    text: str
    start_ms: float = 0.0
    end_ms: float = 0.0
    words: list[Word] = field(default_factory=list)
    confidence: float = 1.0
    # Wall-clock (time.monotonic) moment the event was produced, for latency metrics.
    produced_at: float = 0.0


class STTStream(abc.ABC):
    """One speaker's audio in, transcripts out."""

    @abc.abstractmethod
    def push_frame(self, frame: AudioFrame) -> None:
        """Queue audio. Must not block; frames are in the STT's `sample_rate`."""

    @abc.abstractmethod
    def end_of_speech(self) -> None:
        """Our VAD saw the speaker stop: finalize what is buffered (a FINAL is expected)."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Transcript]: ...

    @abc.abstractmethod
    async def aclose(self) -> None: ...


class STT(abc.ABC):
    name: str = "stt"
    sample_rate: int = 16000

    @abc.abstractmethod
    def stream(self, *, language: str = "en", keywords: Sequence[str] = ()) -> STTStream: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release shared resources (models, connections)."""


# ---------------------------------------------------------------- text-to-speech


@dataclass(slots=True)
class TTSAudio:
    """A chunk of synthesized audio.

    `words` aligns text to audio: times are relative to the start of the whole utterance
    (the first chunk of this stream), so the voice session can tell from the playout
    position which words the caller actually heard.
    """

    frame: AudioFrame
    words: list[Word] = field(default_factory=list)
    is_final: bool = False


class TTSStream(abc.ABC):
    """Text pushed incrementally (clause by clause), audio out as soon as possible."""

    @abc.abstractmethod
    def push_text(self, text: str) -> None: ...

    @abc.abstractmethod
    def flush(self) -> None:
        """Synthesize what was pushed so far without waiting for more text."""

    @abc.abstractmethod
    def end_input(self) -> None:
        """No more text will come; the iterator ends after the last audio."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[TTSAudio]: ...

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Cancel: stop synthesis now and drop what is queued."""


class TTS(abc.ABC):
    name: str = "tts"
    sample_rate: int = 16000

    @abc.abstractmethod
    def stream(self, *, voice: str | None = None) -> TTSStream: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release shared resources."""


# ---------------------------------------------------------------- LLM


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
