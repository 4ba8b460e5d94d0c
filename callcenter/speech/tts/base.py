"""The text-to-speech interface: text pushed clause by clause, audio out as soon as possible.

Cloud providers, offline engines and test fakes implement it; `aclose()` cancels an
utterance (barge-in), so it must stop synthesis now and drop what is queued.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from callcenter.audio.frame import AudioFrame
from callcenter.speech.types import Word


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
