"""Offline engines, one module each: Whisper and pocketsphinx grammar (STT), Piper and eSpeak
(TTS), MiniLM intents (agent nodes without an LLM).

Models load once per process (`loader`), CPU work runs in a bounded thread pool
(`executor`). The voice session and the flow never import them.
"""
