"""Small server-rendered SVG charts (no chart script, nothing for the CSP to allow)."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.records.call_detail import TurnLatency

WIDTH, HEIGHT, PAD = 380, 150, 30


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str
    slow: bool


@dataclass(frozen=True, slots=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    pad: int
    max_ms: float
    ticks: list[tuple[float, str]]  # (y, label)


def latency_bars(turns: list[TurnLatency], *, slow_ms: float = 1500.0) -> BarChart | None:
    """Per-turn end-to-end latency as bars; None when no turn was measured."""
    measured = [t for t in turns if t.e2e_ms is not None]
    if not measured:
        return None
    top = max(max(t.e2e_ms or 0.0 for t in measured), 500.0)
    top = float(int(top / 500 + 1) * 500)  # a round axis maximum
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = inner_w / len(measured)
    bars = []
    for i, t in enumerate(measured):
        ms = t.e2e_ms or 0.0
        h = inner_h * ms / top
        parts = [f"turn {t.index}: {ms:.0f} ms end to end"]
        for name, value in (("STT", t.stt_ms), ("LLM", t.llm_ms), ("TTS", t.tts_ms)):
            if value is not None:
                parts.append(f"{name} {value:.0f} ms")
        bars.append(Bar(x=PAD + i * step + step * 0.15, y=PAD + inner_h - h,
                        width=max(step * 0.7, 1.0), height=h, label=str(t.index),
                        title=", ".join(parts), slow=ms >= slow_ms))
    ticks = [(PAD + inner_h - inner_h * f, f"{top * f:.0f}") for f in (0.0, 0.5, 1.0)]
    return BarChart(bars=bars, width=WIDTH, height=HEIGHT, pad=PAD, max_ms=top, ticks=ticks)


@dataclass(frozen=True, slots=True)
class CountBar:
    x: float
    y: float
    width: float
    height: float
    title: str
    label: str  # the hour under every few bars, else ""


def count_bars(points: list[tuple[str, int]], *, width: int = 760,
               height: int = 170) -> tuple[list[CountBar], int]:
    """Bars for (label, count) points (calls per hour); returns the bars and the top count."""
    top = max([c for _, c in points] + [1])
    inner_w, inner_h = width - 2 * PAD, height - 2 * PAD
    step = inner_w / max(len(points), 1)
    every = max(1, len(points) // 12)  # about a dozen labels, however long the period
    bars = []
    for i, (label, count) in enumerate(points):
        h = inner_h * count / top
        bars.append(CountBar(x=PAD + i * step + step * 0.1, y=PAD + inner_h - h,
                             width=max(step * 0.8, 1.0), height=h,
                             title=f"{label}: {count} call(s)",
                             label=label[-5:] if i % every == 0 else ""))
    return bars, top
