"""What a voice session reports: utterances (for the transcript), turn events, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AgentState(StrEnum):
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"


@dataclass(slots=True)
class Utterance:
    """One finished utterance. Times are ms from call start (the room's media time line).

    For an interrupted agent utterance `text` is what the caller actually heard and
    `planned_text` what the agent meant to say.
    """

    role: str  # "agent", or the participant kind: "caller", "supervisor", ...
    identity: str
    text: str
    start_ms: float
    end_ms: float
    interrupted: bool = False
    planned_text: str = ""


@dataclass(slots=True, frozen=True)
class UserTurn:
    """A participant finished a turn (endpointing decided they are done)."""

    identity: str
    text: str
    start_ms: float
    end_ms: float
    # The agent was speaking (uninterruptibly) or thinking while this was said.
    overlapped_agent: bool = False
    # The recognizer's confidence in `text` (0..1; see `turns.turn_confidence`): the flow
    # reads back an important answer heard with little of it.
    confidence: float = 1.0


@dataclass(slots=True, frozen=True)
class DtmfInput:
    identity: str
    digit: str


@dataclass(slots=True, frozen=True)
class AgentInterrupted:
    heard_text: str
    planned_text: str


@dataclass(slots=True, frozen=True)
class ParticipantGone:
    identity: str


@dataclass(slots=True, frozen=True)
class CallEnded:
    reason: str


SessionEvent = UserTurn | DtmfInput | AgentInterrupted | ParticipantGone | CallEnded


@dataclass(slots=True)
class TurnMetrics:
    """Latency of one caller turn and the agent's answer (ms; None when not applicable)."""

    identity: str
    speech_end_ms: float
    end_of_utterance_delay_ms: float | None = None  # speech end -> turn committed
    stt_final_latency_ms: float | None = None  # end_of_speech() -> final transcript
    # A turn of several segments: how long the commit waited for the STT's reading of
    # the whole turn (`STTStream.decode_turn`) past the endpointing delay.
    turn_reading_ms: float | None = None
    llm_ttft_ms: float | None = None
    tts_ttfb_ms: float | None = None  # first text pushed -> first audio
    # Where the reply's time went after the turn was committed: the flow deciding what to
    # say (turn committed -> reply queued), then the reply's first audio out (queued ->
    # played: the TTS or its cache, and any agent speech still ahead of it).
    flow_ms: float | None = None
    first_audio_ms: float | None = None
    e2e_ms: float | None = None  # speech end -> first agent audio out
    interrupted: bool = False
    interruptions: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class SpeechTiming:
    """How soon one agent utterance made sound once it was its turn to play (ms): the
    TTS (or its cache) and the hand-off to the room, without the wait behind speech
    ahead of it."""

    text: str
    ready_ms: float
