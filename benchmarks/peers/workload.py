"""Make the one workload every framework gets (run in callcenter's venv).

The caller track is the density bench's lines (callcenter.bench.harness.SHORT_LINES), spoken
by the same eSpeak voice over the same phone channel (8 kHz, G.711), each followed by
`GAP_S` of line noise at the level our bench's rooms send (comfort noise 40). The reply is
what our FakeTTS makes of our FakeLLM's answer, so every framework plays the same audio.
Delays are the density bench's REALISTIC fakes; the endpointing wait is ours (400 ms),
and each peer is configured to the same wait.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np

from callcenter.bench.harness import REALISTIC, SHORT_LINES, reply_for
from callcenter.speech import ChatMessage
from callcenter.testing.fakes import FakeTTS
from callcenter.testing.voices import CallerVoice
from callcenter.voice import VoiceSettings

GAP_S = 3.0  # reply (~1.9 s after the voice ends) plus a pause, before the next line
NOISE = 40
LEAD_STEP_MS = 173.0  # session i starts i * 173 ms (mod 1.5 s) into its track


async def _reply_audio(text: str, rate: int) -> np.ndarray:
    stream = FakeTTS(sample_rate=rate).stream()
    stream.push_text(text)
    stream.end_input()
    chunks = [a.frame.samples async for a in stream]
    return np.concatenate(chunks).astype(np.int16)


def make(folder: Path) -> Path:
    """Write caller.wav, reply.wav and workload.json into `folder` (idempotent)."""
    import array

    from common import write_wav  # benchmarks/peers is on sys.path (run puts it there)

    folder.mkdir(parents=True, exist_ok=True)
    voice = CallerVoice("espeak", "phone")
    rng = np.random.default_rng(7)
    parts: list[np.ndarray] = []
    lines: list[dict[str, object]] = []
    t = 0
    for text in SHORT_LINES:
        spoken = voice.speak(text)
        lines.append({"text": text,
                      "voiced_start_ms": 1000.0 * t / voice.rate + spoken.voiced_start_ms,
                      "voiced_end_ms": 1000.0 * t / voice.rate + spoken.voiced_end_ms})
        gap = rng.integers(-NOISE, NOISE + 1, int(GAP_S * voice.rate), dtype=np.int16)
        parts += [spoken.samples, gap]
        t += len(spoken.samples) + len(gap)
    caller = np.concatenate(parts).astype(np.int16)
    reply_text = reply_for([ChatMessage(role="user", content=SHORT_LINES[0])])
    reply = asyncio.run(_reply_audio(reply_text, voice.rate))
    write_wav(folder / "caller.wav", voice.rate, array.array("h", caller.tobytes()))
    write_wav(folder / "reply.wav", voice.rate, array.array("h", reply.tobytes()))
    meta = {
        "lines": lines,
        "reply_text": reply_text,
        "stt_final_s": REALISTIC.stt_final,
        "llm_ttft_s": REALISTIC.llm_ttft,
        "tts_ttfb_s": REALISTIC.tts_ttfb,
        "endpointing_ms": 1000.0 * VoiceSettings(input_rate=voice.rate).endpointing.min_delay,
        "lead_step_ms": LEAD_STEP_MS,
    }
    (folder / "workload.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder
