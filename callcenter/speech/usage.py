"""Per-stream usage and latency records for cost reporting and per-turn metrics.

Each provider stream fills one record while it runs (`stream.metrics`) and hands it to the
optional `UsageRecorder` when it ends. The call session owns one recorder per call and
stores `recorder.records` (or `recorder.totals()`) with the call.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class LLMMetrics:
    """One chat completion: time to first token (s) and tokens billed."""

    provider: str
    model: str = ""
    ttft_s: float | None = None
    duration_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    kind: str = "llm"


@dataclass(slots=True)
class TTSMetrics:
    """One synthesis stream: time to first audio byte (s) from the first request for audio."""

    provider: str
    voice: str = ""
    ttfb_s: float | None = None
    characters: int = 0
    audio_s: float = 0.0
    kind: str = "tts"


@dataclass(slots=True)
class STTMetrics:
    """One recognition stream: audio seconds sent and final-transcript latencies (s)."""

    provider: str
    audio_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    kind: str = "stt"

    @property
    def mean_latency_s(self) -> float | None:
        return sum(self.latencies_s) / len(self.latencies_s) if self.latencies_s else None


# Quantities that add up across streams (latencies do not; they stay in `records`).
_BILLED = ("prompt_tokens", "completion_tokens", "characters", "audio_s")

Metrics = LLMMetrics | TTSMetrics | STTMetrics


# The usage of the call whose task is running. Providers are shared by every call in a
# process, so per-call usage follows the asyncio task tree (contextvars are inherited by the
# tasks a call creates) rather than the provider object.
CALL_USAGE: ContextVar[UsageRecorder | None] = ContextVar("callcenter_call_usage", default=None)


def report(metrics: Metrics, recorder: UsageRecorder | None) -> None:
    """Record a finished stream's metrics with the provider's recorder and the current call."""
    if recorder is not None:
        recorder.record(metrics)
    call = CALL_USAGE.get()
    if call is not None and call is not recorder:
        call.record(metrics)


class UsageRecorder:
    """Collects the metrics of every stream in one call."""

    def __init__(self) -> None:
        self.records: list[Metrics] = []

    def record(self, metrics: Metrics) -> None:
        self.records.append(metrics)

    def totals(self) -> dict[str, dict[str, Any]]:
        """Sums per provider, ready to store as JSON with the call."""
        out: dict[str, dict[str, Any]] = {}
        for m in self.records:
            agg = out.setdefault(f"{m.kind}:{m.provider}", {"streams": 0})
            agg["streams"] += 1
            for key, value in asdict(m).items():
                if key in _BILLED:
                    agg[key] = agg.get(key, 0) + value
        return out
