"""Static prompt first audio: the flow says a fixed prompt -> its first audio at the output.

Every static prompt of the example flows is spoken through a `SpeechHandle` (the voice
session's own path from text to room output) with Piper, once straight from the engine and
once through the warmed `CachingTTS`. The output takes frames without pacing, so the figure
is the time until audio could start playing, not the prompt's length.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from callcenter.audio.frame import AudioFrame
from callcenter.bench.harness import percentile
from callcenter.rooms.base import AudioOutput
from callcenter.rooms.clock import RealClock
from callcenter.speech.tts.base import TTS
from callcenter.voice.speech import SpeechHandle

FLOWS_DIR = Path(__file__).resolve().parents[2] / "flows"


class _FirstFrameOutput(AudioOutput):
    """Notes when the first frame arrives; plays nothing."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.first_at: float | None = None
        self.got = asyncio.Event()

    async def capture_frame(self, frame: AudioFrame) -> None:
        if self.first_at is None:
            self.first_at = time.perf_counter()
            self.got.set()

    def clear(self) -> None:
        pass

    async def wait_for_playout(self) -> None:
        pass

    @property
    def queued_ms(self) -> float:
        return 0.0

    @property
    def played_ms(self) -> float:
        return 0.0


async def first_audio_ms(tts: TTS, text: str) -> float:
    """Milliseconds from handing `text` to the speech path to its first audio frame out."""
    out = _FirstFrameOutput(tts.sample_rate)
    clock = RealClock()
    t0 = time.perf_counter()
    handle = SpeechHandle(text, interruptible=True)
    handle.start(tts, out, clock, clock.now_ms)
    await asyncio.wait_for(out.got.wait(), 30)
    assert out.first_at is not None
    handle.interrupt(clock.now_ms())
    await handle.wait()
    return 1000.0 * (out.first_at - t0)


def example_prompts() -> list[str]:
    from callcenter.callsession.static_prompts import static_prompts
    from callcenter.flow.validate import load_flow_file

    texts: dict[str, None] = {}
    for path in sorted(FLOWS_DIR.glob("*.yaml")):
        texts.update(dict.fromkeys(static_prompts(load_flow_file(path))))
    return list(texts)


async def bench_static_prompts(repeats: int = 1, limit: int | None = None) -> dict[str, Any]:
    """First-audio times of the example flows' static prompts without and with the cache
    (`limit`: only the first prompts, for a quick run)."""
    try:
        from callcenter.speech.offline.piper import PiperTTS
    except ImportError as exc:  # pragma: no cover - depends on the install
        return {"skipped": f"Piper not installed ({exc}); pip install 'callcenter[local]'"}
    from callcenter.speech.tts.cache import CachingTTS

    prompts = example_prompts()[:limit]
    piper = PiperTTS(8000)
    await asyncio.to_thread(piper.warm_up)
    cached = CachingTTS(piper)
    await cached.warm(prompts)
    fresh: list[float] = []
    replayed: list[float] = []
    for _ in range(repeats):
        for text in prompts:
            fresh.append(await first_audio_ms(piper, text))
            replayed.append(await first_audio_ms(cached, text))
    await piper.aclose()

    def summary(xs: list[float]) -> dict[str, Any]:
        return {"p50": _r(percentile(xs, 50)), "p99": _r(percentile(xs, 99)), "n": len(xs)}

    return {"prompts": len(prompts), "uncached": summary(fresh), "cached": summary(replayed),
            "cache_mb": round(cached.cache.nbytes / 1e6, 2)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
