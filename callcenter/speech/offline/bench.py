"""Latency of the offline speech engines on this machine.

Run `python -m callcenter.speech.offline.bench`.
Short by design (~20 s): phone-quality Piper speech into Whisper and the grammar STT,
Piper and eSpeak time to first audio, intent classification. Prints JSON (milliseconds).
"""

from __future__ import annotations

import asyncio
import functools
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from callcenter.audio.frame import AudioFrame
from callcenter.audio.phone import phone_channel
from callcenter.speech.offline.espeak import EspeakTTS
from callcenter.speech.offline.grammar import GrammarSTT, build_jsgf
from callcenter.speech.offline.intents import IntentClassifier, load_encoder
from callcenter.speech.offline.piper import PiperOptions, PiperTTS
from callcenter.speech.offline.whisper import WhisperSTT, load_whisper_model
from callcenter.speech.tts.base import TTS

UTTERANCES = [
    "I want to check my order status.",
    "No, put me through to a person please.",
    "I would like to change my delivery address.",
    "There is a charge on my bill I do not recognize.",
    "Can you cancel my subscription?",
]
REPLY = "Thanks for calling, I can help you check an order, change an address, or pay a bill."


def _ms(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return 1000.0 * (time.perf_counter() - start)


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "max": round(max(values), 1)}


async def _first_audio_ms(tts: TTS, text: str) -> float:
    stream = tts.stream()
    start = time.perf_counter()
    stream.push_text(text)
    stream.end_input()
    async for _ in stream:
        first = 1000.0 * (time.perf_counter() - start)
        await stream.aclose()
        return first
    raise RuntimeError("TTS produced no audio")


async def run() -> dict[str, Any]:
    """Measure every engine; returns the figures printed by `main`."""
    out: dict[str, Any] = {}
    piper = PiperTTS(16000, PiperOptions(deterministic=True))
    out["piper_load_ms"] = round(_ms(piper.warm_up), 1)
    phone = [
        phone_channel(AudioFrame(piper.synthesize_clause(u).samples, 16000), output_rate=16000)
        for u in UTTERANCES
    ]
    out["whisper_load_ms"] = round(_ms(load_whisper_model), 1)
    whisper = WhisperSTT()
    whisper.transcribe(phone[0].samples, 0.0)  # first call pays one-off allocations
    out["whisper_utterance_ms"] = _stats(
        [_ms(functools.partial(whisper.transcribe, a.samples, 0.0)) for a in phone]
    )
    grammar = GrammarSTT(["check my order status", "talk to a person"])
    jsgf = build_jsgf(grammar.phrases)
    grammar.decode(jsgf, phone[0].samples, 0.0)
    out["grammar_utterance_ms"] = _stats(
        [_ms(functools.partial(grammar.decode, jsgf, a.samples, 0.0)) for a in phone]
    )
    out["piper_first_audio_ms"] = {
        "hello": round(await _first_audio_ms(piper, "Hello."), 1),
        "15_words_split_at_commas": round(await _first_audio_ms(piper, REPLY), 1),
        "15_words_whole": round(_ms(lambda: piper.synthesize_clause(REPLY)), 1),
    }
    espeak = EspeakTTS()
    espeak.synthesize_clause("warm up")
    out["espeak_sentence_ms"] = _stats(
        [_ms(functools.partial(espeak.synthesize_clause, u)) for u in UTTERANCES]
    )
    out["espeak_first_audio_ms"] = round(await _first_audio_ms(espeak, REPLY), 1)
    out["intent_load_ms"] = round(_ms(load_encoder), 1)
    clf = IntentClassifier({"order": ["where is my order"], "agent": ["talk to a person"]})
    clf.classify("warm up")
    out["intent_utterance_ms"] = _stats(
        [_ms(functools.partial(clf.classify, u)) for u in UTTERANCES]
    )
    return out


def main() -> None:
    print(json.dumps(asyncio.run(run()), indent=2))


if __name__ == "__main__":
    main()
