"""Speech providers built from Settings: the one place that maps settings to constructors.

Offline (the embedded default): Whisper STT, Piper TTS (eSpeak when asked for speed). A cloud
STT or TTS is wrapped in a fallback adapter whose last resort is the offline engine, so a
provider outage never leaves a caller in silence. Vendor modules are imported only when
chosen: a process on the offline stack never loads the cloud SDKs, and the other way round.
The voice session and the flow never import this module; they are handed providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.config import LLMProvider, Settings, SettingsError, STTProvider, TTSProvider
from callcenter.speech.llm.base import LLM
from callcenter.speech.stt.base import STT
from callcenter.speech.tts.base import TTS

if TYPE_CHECKING:
    from pydantic import SecretStr

    from callcenter.speech.tts.cache import CachingTTS
    from callcenter.speech.vendors.deepgram import DeepgramSTT
    from callcenter.speech.vendors.elevenlabs import ElevenLabsTTS
    from callcenter.speech.vendors.openai import OpenAILLM


def build_stt(settings: Settings) -> STT:
    """The STT `settings` ask for; a cloud one falls back to Whisper."""
    if settings.stt_provider != STTProvider.DEEPGRAM:
        return offline_stt(settings)
    from callcenter.speech.stt.fallback import FallbackSTT

    primary = deepgram_stt(settings)
    if primary is None:
        raise _missing("DEEPGRAM_API_KEY")
    return FallbackSTT([primary, offline_stt()])


def build_tts(settings: Settings, sample_rate: int = 16000) -> TTS:
    """The TTS `settings` ask for; a cloud one falls back to Piper."""
    if settings.tts_provider != TTSProvider.ELEVENLABS:
        return offline_tts(sample_rate, fast=settings.tts_provider == TTSProvider.ESPEAK)
    from callcenter.speech.tts.fallback import FallbackTTS

    primary = elevenlabs_tts(settings)
    if primary is None:
        raise _missing("ELEVENLABS_API_KEY")
    return FallbackTTS([primary, offline_tts(sample_rate)])


def cached_tts(tts: TTS, settings: Settings) -> CachingTTS:
    """`tts` with the static-prompt audio cache: in memory, and on disk under DATA_DIR."""
    from callcenter.speech.tts.cache import AudioCache, CachingTTS

    return CachingTTS(tts, AudioCache(directory=settings.data_dir / "tts-cache"))


def build_llm(settings: Settings) -> LLM | None:
    """The LLM `settings` ask for, or None (agent nodes then classify intents offline)."""
    if settings.llm_provider != LLMProvider.OPENAI:
        return None
    llm = openai_llm(settings)
    if llm is None:
        raise _missing("OPENAI_API_KEY")
    return llm


def offline_stt(settings: Settings | None = None) -> STT:
    """Whisper, in two tiers where a second model is set (`whisper_tiers`)."""
    from callcenter.config import get_settings
    from callcenter.speech.offline.whisper import WhisperSTT

    settings = settings or get_settings()
    second = settings.local_stt_second_model
    if not second or second == settings.local_stt_model:
        return WhisperSTT()
    from callcenter.speech.offline.whisper_tiers import TieredWhisperSTT

    return TieredWhisperSTT(second_model=second)


def offline_tts(sample_rate: int, *, fast: bool = False) -> TTS:
    if fast:
        from callcenter.speech.offline.espeak import EspeakTTS

        return EspeakTTS(sample_rate=sample_rate)
    from callcenter.speech.offline.piper import PiperTTS

    return PiperTTS(sample_rate=sample_rate)


# One builder per vendor: None when its key is unset, so a caller that only wants a vendor
# when it is configured (post-call summaries, `providers check`) asks the same function.
# The connect timeout is the vendors' own default unless a caller (a check) says otherwise.
CONNECT_TIMEOUT_S = 5.0


def openai_llm(
    settings: Settings, *, connect_timeout: float = CONNECT_TIMEOUT_S
) -> OpenAILLM | None:
    key = _secret(settings.openai_api_key)
    if not key:
        return None
    from callcenter.speech.vendors.openai import OpenAILLM

    return OpenAILLM(api_key=key, base_url=settings.openai_base_url, model=settings.openai_model,
                     connect_timeout=connect_timeout)


def deepgram_stt(
    settings: Settings, *, connect_timeout: float = CONNECT_TIMEOUT_S
) -> DeepgramSTT | None:
    key = _secret(settings.deepgram_api_key)
    if not key:
        return None
    from callcenter.speech.vendors.deepgram import DeepgramSTT

    return DeepgramSTT(api_key=key, base_url=settings.deepgram_base_url,
                       connect_timeout=connect_timeout)


def elevenlabs_tts(
    settings: Settings, *, connect_timeout: float = CONNECT_TIMEOUT_S
) -> ElevenLabsTTS | None:
    key = _secret(settings.elevenlabs_api_key)
    if not key:
        return None
    from callcenter.speech.vendors.elevenlabs import ElevenLabsTTS

    return ElevenLabsTTS(api_key=key, base_url=settings.elevenlabs_base_url,
                         voice_id=settings.elevenlabs_voice_id, output_format="pcm_16000",
                         connect_timeout=connect_timeout)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _missing(var: str) -> SettingsError:
    return SettingsError(f"{var} is required by the provider you chose; set it or switch back")
