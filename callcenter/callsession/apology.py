"""The line a caller hears when every speech provider has failed: rendered before it is needed.

If TTS is down, we cannot synthesize "sorry, we're having trouble" at that moment, so the
audio is made once per process with the fast offline engine and played straight into the
room's output. A caller never hears dead air because a provider broke.
"""

from __future__ import annotations

import logging

import numpy as np

from callcenter.audio.frame import AudioFrame
from callcenter.audio.resample import resample_frame
from callcenter.rooms.base import AudioOutput

log = logging.getLogger(__name__)

APOLOGY_TEXT = "I'm sorry, I'm having technical difficulties right now."
CHUNK_MS = 40.0


async def render_apology(sample_rate: int = 16000, text: str = APOLOGY_TEXT) -> AudioFrame | None:
    """Synthesize the apology with eSpeak (the `local` extra); None if it is not installed."""
    try:
        from callcenter.speech.offline.espeak import EspeakTTS
    except ImportError:
        log.warning("eSpeak is not installed: provider outages fall back to the main TTS only")
        return None
    tts = EspeakTTS(sample_rate=sample_rate)
    stream = tts.stream()
    stream.push_text(text)
    stream.end_input()
    chunks = [chunk.frame.samples async for chunk in stream if len(chunk.frame.samples)]
    await stream.aclose()
    await tts.aclose()
    if not chunks:
        return None
    return AudioFrame(np.concatenate(chunks), tts.sample_rate)


async def play(output: AudioOutput, audio: AudioFrame) -> None:
    """Play pre-rendered audio into the room, in small chunks, and wait until it is heard."""
    if audio.sample_rate != output.sample_rate:
        audio = resample_frame(audio, output.sample_rate)
    step = round(audio.sample_rate * CHUNK_MS / 1000.0)
    for start in range(0, len(audio.samples), step):
        await output.capture_frame(AudioFrame(audio.samples[start : start + step],
                                              audio.sample_rate))
    await output.wait_for_playout()
