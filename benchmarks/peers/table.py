"""From density steps to the one peers table and its JSON (standard library only)."""

from __future__ import annotations

from typing import Any

MAX_LATE_PCT = 0.5  # callcenter.bench.voice.MAX_LATE_PCT
SATURATED_CPU_PCT = 100.0  # one core's worth: a Python process's event loop is one thread
AT = 10  # the per-session figures are taken at this many sessions
OURS = "callcenter"


def passes(step: dict[str, Any]) -> bool:
    return not step.get("errors") and step.get("late_frame_pct", 100.0) < MAX_LATE_PCT


def saturated(step: dict[str, Any]) -> bool:
    """Stepping stops here: too many late frames, CPU at a core, or the step failed."""
    cpu = step.get("cpu_pct")
    return not passes(step) or (cpu is not None and cpu >= SATURATED_CPU_PCT)


def max_sessions(steps: list[dict[str, Any]]) -> int:
    """The largest step under MAX_LATE_PCT, counting only steps before the first failure
    (steps are run smallest first; a pass after a failure is luck, not capacity)."""
    best = 0
    for step in sorted(steps, key=lambda s: s["sessions"]):
        if not passes(step):
            break
        best = step["sessions"]
    return best


def _at(steps: list[dict[str, Any]], n: int) -> dict[str, Any] | None:
    return next((s for s in steps if s["sessions"] == n), None)


def marginal_rss_mb(steps: list[dict[str, Any]]) -> float | None:
    """RSS per added session between the smallest and largest step that ran (each step is
    a fresh process, so imports, models loaded once and allocator slack cancel out)."""
    ran = sorted((s for s in steps if not s.get("errors") and s.get("rss_mb") is not None),
                 key=lambda s: s["sessions"])
    if len(ran) < 2:
        return None
    lo, hi = ran[0], ran[-1]
    grown, added = float(hi["rss_mb"] - lo["rss_mb"]), int(hi["sessions"] - lo["sessions"])
    return round(grown / added, 3)


def marginal_cpu(steps: list[dict[str, Any]]) -> float | None:
    """CPU-s per audio-s per added session between the smallest and largest passing step
    (a process's fixed per-tick work cancels; a failing step's CPU share is capped by
    whatever starved it, so only passing steps count)."""
    ok = sorted((s for s in steps if passes(s) and s.get("cpu_pct") is not None),
                key=lambda s: s["sessions"])
    if len(ok) < 2:
        return None
    lo, hi = ok[0], ok[-1]
    grown = float(hi["cpu_pct"] - lo["cpu_pct"]) / 100.0  # of a core = CPU-s per second
    return round(grown / int(hi["sessions"] - lo["sessions"]), 5)


def summarize(framework: str, version: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """One table row (before ratios) from a framework's steps."""
    at = _at(steps, AT)
    overhead = (at or {}).get("turn_overhead_ms") or {}
    return {
        "framework": framework,
        "version": version,
        "max_sessions": max_sessions(steps),
        "cpu_s_per_audio_s_per_session": at and at.get("cpu_s_per_audio_s_per_session"),
        "turn_overhead_p50_ms": overhead.get("p50"),
        "turn_overhead_p99_ms": overhead.get("p99"),
        "cpu_marginal_s_per_audio_s_per_session": marginal_cpu(steps),
        "rss_per_session_mb": at and at.get("rss_per_session_mb"),
        "rss_marginal_mb_per_session": marginal_rss_mb(steps),
        "steps": sorted(steps, key=lambda s: s["sessions"]),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add, to every peer row, our sessions per process over theirs and their CPU per
    session over ours (both > 1 when we do better)."""
    ours = next((r for r in rows if r["framework"] == OURS), None)
    out = []
    for r in rows:
        r = dict(r)
        if ours is not None and r is not ours and r["framework"] != OURS:
            r["sessions_ours_over_theirs"] = _ratio(ours["max_sessions"], r["max_sessions"])
            r["cpu_theirs_over_ours"] = _ratio(
                r["cpu_s_per_audio_s_per_session"], ours["cpu_s_per_audio_s_per_session"])
        out.append(r)
    return out


def _fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "-"
    return format(v, spec) if spec else str(v)


def _times(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


HEADER = ("framework", "version", "max sessions/process",
          f"CPU-s/audio-s/session @{AT} (marginal)",
          f"turn overhead p50/p99 ms @{AT}", f"RSS MB/session @{AT} (marginal)",
          "ours/theirs sessions",
          "theirs/ours CPU")


def render(rows: list[dict[str, Any]]) -> str:
    """The table as Markdown."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        peer = r["framework"] != OURS
        cells = [
            r["framework"], r["version"], _fmt(r["max_sessions"]),
            f'{_fmt(r["cpu_s_per_audio_s_per_session"], ".4f")} '
            f'({_fmt(r["cpu_marginal_s_per_audio_s_per_session"], ".4f")})',
            f'{_fmt(r["turn_overhead_p50_ms"], ".1f")} / {_fmt(r["turn_overhead_p99_ms"], ".1f")}',
            f'{_fmt(r["rss_per_session_mb"], ".2f")} '
            f'({_fmt(r["rss_marginal_mb_per_session"], ".2f")})',
            _times(r.get("sessions_ours_over_theirs")),
            _times(r.get("cpu_theirs_over_ours")),
        ]
        if not peer:
            cells[-2:] = ["1x", "1x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`results`: framework -> {"version": ..., "steps": [...]}; returns the JSON document."""
    rows = with_ratios([summarize(name, r["version"], r["steps"]) for name, r in results.items()])
    return {"rows": rows, "table": render(rows), "max_late_pct": MAX_LATE_PCT,
            "saturated_cpu_pct": SATURATED_CPU_PCT, "figures_at_sessions": AT}
