"""The speech bundle a worker process shares across calls: STT, TTS, LLM and intents.

Each provider is built from Settings by `callcenter.speech.factory` (offline by default,
cloud ones backed by the offline engine); agent nodes without an LLM use the MiniLM intent
classifier. Providers are process-wide: models load once and are shared by every call.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.callsession.effects import IntentService
from callcenter.config import Settings
from callcenter.speech import LLM, STT, TTS
from callcenter.speech.factory import build_llm, build_stt, build_tts, cached_tts


@dataclass
class Speech:
    stt: STT
    tts: TTS
    llm: LLM | None
    intents: IntentService

    def warm_up(self) -> None:
        """Load models now (blocking, ~1-2 s) so the first caller does not wait for them."""
        warm_up(self.stt, self.tts, self.intents)

    async def aclose(self) -> None:
        for p in (self.stt, self.tts, self.llm):
            if p is not None:
                await p.aclose()


def warm_up(stt: STT, tts: TTS, intents: IntentService | None) -> None:
    """Load what loads lazily: Whisper, the Piper voice, the MiniLM encoder."""
    for engine in (stt, tts):
        hook = getattr(engine, "warm_up", None)
        if hook is not None:
            hook()
    if intents is not None:
        intents.warm_up()


def build_speech(settings: Settings, *, sample_rate: int = 16000) -> Speech:
    """The providers `settings` ask for (see `callcenter.speech.factory`) and the intents."""
    # Agent nodes fall back to intents when there is no LLM (or it fails).
    return Speech(
        stt=build_stt(settings),
        # Shared by every call of the process: static prompts are synthesized once.
        tts=cached_tts(build_tts(settings, sample_rate), settings),
        llm=build_llm(settings),
        intents=IntentService(),
    )
