"""Build the speech providers a process uses from Settings.

Offline (the embedded default): Whisper STT, Piper TTS (eSpeak as its fallback) and the
MiniLM intent classifier for agent nodes. Cloud providers are wrapped in a fallback adapter
whose last resort is the offline engine, so a provider outage never leaves a caller in
silence. Providers are process-wide: models load once and are shared by every call.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.callsession.effects import IntentService
from callcenter.config import LLMProvider, Settings, STTProvider, TTSProvider
from callcenter.speech.base import LLM, STT, TTS


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


def offline_stt() -> STT:
    from callcenter.speech.whisper import WhisperSTT

    return WhisperSTT()


def offline_tts(sample_rate: int, *, fast: bool = False) -> TTS:
    if fast:
        from callcenter.speech.espeak import EspeakTTS

        return EspeakTTS(sample_rate=sample_rate)
    from callcenter.speech.piper import PiperTTS

    return PiperTTS(sample_rate=sample_rate)


def build_speech(settings: Settings, *, sample_rate: int = 16000) -> Speech:
    """The providers `settings` ask for, each cloud one backed by an offline fallback."""
    stt: STT
    tts: TTS
    llm: LLM | None = None
    deepgram = settings.stt_provider == STTProvider.DEEPGRAM
    stt = _cloud_stt(settings) if deepgram else offline_stt()
    if settings.tts_provider == TTSProvider.ELEVENLABS:
        tts = _cloud_tts(settings, sample_rate)
    else:
        tts = offline_tts(sample_rate, fast=settings.tts_provider == TTSProvider.ESPEAK)
    if settings.llm_provider == LLMProvider.OPENAI:
        llm = _cloud_llm(settings)
    # Agent nodes fall back to intents when there is no LLM (or it fails).
    return Speech(stt=stt, tts=tts, llm=llm, intents=IntentService())


def _require(settings: Settings, var: str) -> str:
    value = getattr(settings, var.lower())
    raw = value.get_secret_value() if value is not None else ""
    if not raw:
        from callcenter.config import SettingsError

        raise SettingsError(f"{var} is required by the provider you chose; set it or switch back")
    return str(raw)


def _cloud_stt(settings: Settings) -> STT:
    from callcenter.speech.deepgram_stt import DeepgramSTT
    from callcenter.speech.fallback_stt import FallbackSTT

    key = _require(settings, "DEEPGRAM_API_KEY")
    primary = DeepgramSTT(api_key=key, base_url=settings.deepgram_base_url)
    return FallbackSTT([primary, offline_stt()])


def _cloud_tts(settings: Settings, sample_rate: int) -> TTS:
    from callcenter.speech.elevenlabs_tts import ElevenLabsTTS
    from callcenter.speech.fallback_tts import FallbackTTS

    key = _require(settings, "ELEVENLABS_API_KEY")
    primary = ElevenLabsTTS(
        api_key=key, base_url=settings.elevenlabs_base_url, voice_id=settings.elevenlabs_voice_id,
        output_format="pcm_16000",
    )
    return FallbackTTS([primary, offline_tts(sample_rate)])


def _cloud_llm(settings: Settings) -> LLM:
    from callcenter.speech.openai_llm import OpenAILLM

    key = _require(settings, "OPENAI_API_KEY")
    return OpenAILLM(api_key=key, base_url=settings.openai_base_url, model=settings.openai_model)
