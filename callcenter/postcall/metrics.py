"""Per-call quality metrics, computed from the stored call, its utterances and escalations.

Keys read from `Call.metrics` (written by the voice session during the call):

- `turns`: list of objects, one per agent reply, each with `e2e_ms` (end of the caller's
  speech to the first agent audio the caller hears). Missing or non-numeric values are
  skipped, so a partly written list still yields percentiles.
- `interruptions` (optional int): barge-ins counted live. Kept as `interruptions_live`
  for comparison only: `interruptions` is the number of interrupted agent lines in the
  stored transcript, so the count and the transcript always agree.

Results are stored under `Call.metrics["postcall"]` (the voice session's keys are kept).
All durations are seconds unless the key ends in `_ms`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from callcenter.models import Call, Disposition, Escalation, SpeakerRole
from callcenter.postcall.transcript import TranscriptLine


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes even for timezone columns; they are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round(max((aware(b) - aware(a)).total_seconds(), 0.0), 3)


def _turn_latencies(raw: Any) -> list[float]:
    if not isinstance(raw, list):
        return []
    out = []
    for turn in raw:
        value = turn.get("e2e_ms") if isinstance(turn, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            out.append(float(value))
    return out


def compute(
    call: Call,
    lines: Sequence[TranscriptLine],
    escalations: Sequence[Escalation],
    disposition: Disposition,
    ended_at: datetime | None,
) -> dict[str, Any]:
    """The metrics dict stored under `Call.metrics["postcall"]`."""
    talk = dict.fromkeys((r.value for r in SpeakerRole), 0)
    for line in lines:
        talk[line.speaker] = talk.get(line.speaker, 0) + (line.end_ms - line.start_ms)
    total_talk = sum(talk.values())
    live = call.metrics.get("interruptions")
    interruptions = sum(
        1 for line in lines if line.interrupted and line.speaker == SpeakerRole.AGENT
    )
    latencies = _turn_latencies(call.metrics.get("turns"))
    p50 = percentile(latencies, 50)
    p95 = percentile(latencies, 95)
    answered = call.answered_at or call.started_at
    requested = [aware(e.requested_at) for e in escalations if e.requested_at is not None]
    handle = 0.0
    for esc in escalations:
        if esc.answered_at is not None:
            handle += _seconds(esc.answered_at, esc.ended_at or ended_at) or 0.0
    return {
        "duration_s": _seconds(call.started_at, ended_at),
        "time_to_answer_s": _seconds(call.started_at, call.answered_at),
        "talk_ms": talk,
        "ai_talk_ratio": round(talk[SpeakerRole.AGENT] / total_talk, 3) if total_talk else None,
        "interruptions": interruptions,
        "interruptions_live": live if isinstance(live, int) and not isinstance(live, bool)
        else None,
        "turns": len(latencies),
        "turn_latency_p50_ms": round(p50, 1) if p50 is not None else None,
        "turn_latency_p95_ms": round(p95, 1) if p95 is not None else None,
        "time_to_escalate_s": _seconds(answered, min(requested)) if requested else None,
        "supervisor_handle_s": round(handle, 3) if escalations else None,
        "contained": disposition == Disposition.RESOLVED,
    }
