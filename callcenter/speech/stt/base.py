"""The speech-to-text interface: one speaker's audio in, transcript events out.

Cloud providers, offline engines and test fakes implement it; the voice session only sees
these types. Every stream is cancellable: `aclose()` must stop work promptly.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from callcenter.audio.frame import AudioFrame
from callcenter.speech.stt.expect import Expectation
from callcenter.speech.types import Word


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
    # Other readings of the same audio, best first, for a listener that did not understand
    # `text` (a whole turn heard again: a number read at the asked length).
    alternatives: tuple[str, ...] = ()


class STTStream(abc.ABC):
    """One speaker's audio in, transcripts out."""

    @abc.abstractmethod
    def push_frame(self, frame: AudioFrame) -> None:
        """Queue audio. Must not block; frames are in the STT's `sample_rate`."""

    @abc.abstractmethod
    def end_of_speech(self) -> None:
        """Our VAD saw the speaker stop: finalize what is buffered (a FINAL is expected)."""

    def expect(self, expectation: Expectation | None) -> None:  # noqa: B027 - optional
        """What the flow listens for from the next utterance on (None: anything).

        Engines that can be biased (Whisper's prompt, a grammar) use it; others ignore it.
        """

    def continue_turn(self) -> None:  # noqa: B027 - optional
        """The speech starting now belongs to the same turn as the speech before it (the
        caller paused mid-answer: a number read in groups). Engines that decode whole
        utterances keep the turn's audio for `decode_turn`; others ignore it.
        """

    async def decode_turn(self) -> Transcript | None:
        """The turn so far (its speech segments since the last `continue_turn`-less one)
        read as one utterance, with what is expected; None when the engine cannot (a
        streaming provider), the turn has a single segment, or the decode failed.

        A FINAL per segment still comes out as before; this reading is extra, on demand.
        """
        return None

    def end_turn(self) -> None:  # noqa: B027 - optional
        """The turn was committed: its kept audio may go."""

    @property
    def hears_again(self) -> bool:
        """True if `hear_again` can answer (the engine has a second recognizer)."""
        return False

    async def hear_again(self) -> Transcript | None:
        """The last committed turn read by a second recognizer, with what was expected when
        it ended: for a turn the flow did not understand (`callsession.second_hearing`).
        None when the engine has no second recognizer, or the turn's audio is not kept.
        """
        return None

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
