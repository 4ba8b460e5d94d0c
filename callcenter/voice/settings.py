"""Voice-session settings: one place for every turn-taking default (seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.audio.vad import VADSettings


@dataclass(frozen=True, slots=True)
class EndpointingSettings:
    """When a caller's turn is over.

    The turn ends `min_delay` after the caller's last speech (VAD speech end), or after
    `max_delay` when the words so far look unfinished ("my number is", "and", digits mid-way).
    New speech before then continues the same turn.
    """

    min_delay: float = 0.4
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_delay <= self.max_delay:
            raise ValueError(
                "endpointing needs 0 <= min_delay <= max_delay, "
                f"got min_delay={self.min_delay}, max_delay={self.max_delay}"
            )


@dataclass(frozen=True, slots=True)
class InterruptionSettings:
    """When caller speech stops the agent (barge-in). Separate while speaking and thinking.

    `min_words` > 0 additionally requires that many recognized words (interim results).
    A barge-in that produces no words within `false_interruption_timeout` is treated as a
    cough or noise: the agent resumes its reply from the word it was cut in.
    """

    enabled: bool = True
    min_duration_speaking: float = 0.3
    min_words_speaking: int = 0
    min_duration_thinking: float = 0.3
    min_words_thinking: int = 0
    false_interruption_timeout: float = 1.5
    resume_false_interruption: bool = True
    # A key press during an interruptible prompt stops it (IVR type-ahead).
    dtmf_interrupts: bool = True


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """Everything a `VoiceSession` can be tuned with."""

    # Short min silence: Silero's probability decays ~100-150 ms after the last word, so
    # a speech end must be declared early enough to fit inside the endpointing delay.
    vad: VADSettings = field(default_factory=lambda: VADSettings(min_silence_ms=150.0))
    endpointing: EndpointingSettings = field(default_factory=EndpointingSettings)
    interruption: InterruptionSettings = field(default_factory=InterruptionSettings)
    # Rate the session asks the room for (16 kHz: what Whisper takes).
    input_rate: int = 16000
    # Rate the VAD's model runs at, whatever the input rate (see `vad_rate_at`). 8 kHz:
    # phone audio has nothing above 4 kHz, and on the quality bench's clean tuning lines
    # (phone channel upsampled to 16 kHz) Silero's 16 kHz mode missed the first word's
    # onset on 15 of 71 lines (speech coverage 0.921) where its 8 kHz mode on the same
    # audio halved missed 2 (0.989); its windows are half the samples too. 16000: the VAD
    # runs at the input rate (as before this setting).
    vad_rate: int = 8000
    language: str = "en"
    # Chunk size fed to the room output; small chunks mean little audio is lost to clear().
    playout_chunk_ms: float = 40.0

    def __post_init__(self) -> None:
        if self.input_rate not in (8000, 16000):
            raise ValueError(
                f"input_rate must be 8000 or 16000 (Silero VAD rates), got {self.input_rate}"
            )
        if self.vad_rate not in (8000, 16000):
            raise ValueError(
                f"vad_rate must be 8000 or 16000 (Silero VAD rates), got {self.vad_rate}"
            )

    def vad_rate_at(self, input_rate: int) -> int:
        """The VAD's model rate for audio arriving at `input_rate`: `vad_rate`, or the
        input rate when that is lower (an 8 kHz line is never upsampled for the VAD, and
        8 kHz input is judged as it comes, with no 8 -> 16 -> 8 round trip)."""
        return min(self.vad_rate, input_rate)
