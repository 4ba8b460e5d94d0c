"""Speech-to-text, text-to-speech and LLM interfaces and their providers."""

from callcenter.speech.base import (
    LLM,
    STT,
    TTS,
    ChatMessage,
    LLMChunk,
    LLMOptions,
    SpeechError,
    STTStream,
    ToolCall,
    ToolSpec,
    Transcript,
    TranscriptKind,
    TTSAudio,
    TTSStream,
    Usage,
    Word,
)

__all__ = [
    "LLM",
    "STT",
    "TTS",
    "ChatMessage",
    "LLMChunk",
    "LLMOptions",
    "STTStream",
    "SpeechError",
    "TTSAudio",
    "TTSStream",
    "ToolCall",
    "ToolSpec",
    "Transcript",
    "TranscriptKind",
    "Usage",
    "Word",
]
