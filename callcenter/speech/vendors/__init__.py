"""Cloud providers, one module each: OpenAI (LLM), Deepgram (STT), ElevenLabs (TTS).

Import them by module (or build them from settings with `callcenter.speech.factory`); the
voice session and the flow never import them.
"""
