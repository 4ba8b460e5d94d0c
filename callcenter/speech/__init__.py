"""Speech-to-text, text-to-speech and LLM: the interfaces every other package uses.

Layout: one folder per kind (`stt/`, `tts/`, `llm/`: interface, fallback adapter, stream
helpers), cloud providers in `vendors/`, offline engines in `offline/`, and `factory` to
build what the settings ask for. Code outside this package imports the interfaces from here.
"""

from callcenter.speech.errors import SpeechError
from callcenter.speech.llm.base import (
    LLM,
    ChatMessage,
    LLMChunk,
    LLMOptions,
    ToolCall,
    ToolSpec,
    Usage,
)
from callcenter.speech.stt.base import STT, STTStream, Transcript, TranscriptKind
from callcenter.speech.tts.base import TTS, TTSAudio, TTSStream
from callcenter.speech.types import Word

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
