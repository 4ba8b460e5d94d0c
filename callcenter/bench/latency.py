"""`callcenter bench latency`: where each turn's time goes in the example flows' real calls.

Each round runs the three example flows (`flows/*.yaml`) with their scripted callers
(`flows/callers/`) on the offline stack, exactly as `callcenter call` does: Silero VAD,
Whisper, the flow, Piper through the static-prompt cache, in real time on a local room.
For every answered caller turn it reports the stages of the voice session's own
`TurnMetrics`:

- `endpointing`: the caller's last speech -> turn committed (it contains `stt`);
- `stt`: the VAD's speech end -> the final transcript;
- `flow`: turn committed -> the reply queued;
- `first_audio`: reply queued -> its first audio out (TTS or cache);
- `e2e`: the caller's last speech -> the agent's first audio.

And, for every agent utterance, how soon it made sound once it was its turn to play
(`static_prompt_ready` for the flow's static prompts, `dynamic_prompt_ready` for the rest).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The flows shipped in the repository, each with the caller script of the same name.
EXAMPLES = ("customer_support", "appointment_booking", "after_hours")
# When each example's call is placed: the after-hours line's caller rings on a Friday
# night (its callback scenario), the others in business hours.
CALL_TIMES = {
    "customer_support": "2026-11-24T15:00:00Z",
    "appointment_booking": "2026-11-24T15:00:00Z",
    "after_hours": "2026-11-28T03:00:00Z",
}
STAGES = ("endpointing", "stt", "flow", "first_audio", "e2e")
# TurnMetrics field behind each stage.
_FIELDS = {
    "endpointing": "end_of_utterance_delay_ms",
    "stt": "stt_final_latency_ms",
    "flow": "flow_ms",
    "first_audio": "first_audio_ms",
    "e2e": "e2e_ms",
}
# The issue's targets (ms): a turn p50 with endpointing included, a static prompt's start.
E2E_P50_TARGET_MS = 700.0
STATIC_READY_TARGET_MS = 20.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile, rounded to 0.1 ms; None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, round(q / 100.0 * (len(v) - 1))))
    return round(v[k], 1)


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": round(max(values), 1) if values else None}


@dataclass
class FlowFigures:
    """Every measured figure of one flow's calls."""

    stages: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in STAGES})
    static_ready: list[float] = field(default_factory=list)
    dynamic_ready: list[float] = field(default_factory=list)
    calls: int = 0
    failed: list[str] = field(default_factory=list)

    def add_call(self, result: dict[str, Any], static: set[str]) -> None:
        """Take one `callcenter call` JSON result (`LocalCallResult.to_json()`)."""
        self.calls += 1
        if result.get("caller_error"):
            self.failed.append(str(result["caller_error"]))
        for turn in result.get("turns", []):
            if turn.get("e2e_ms") is None or turn.get("interrupted"):
                continue  # unanswered, or cut short: no clean breakdown
            for stage, name in _FIELDS.items():
                value = turn.get(name)
                if value is not None:
                    self.stages[stage].append(float(value))
        for spoken in result.get("speech", []):
            into = self.static_ready if spoken["text"] in static else self.dynamic_ready
            into.append(float(spoken["ready_ms"]))

    def merge(self, other: FlowFigures) -> None:
        for name in STAGES:
            self.stages[name].extend(other.stages[name])
        self.static_ready.extend(other.static_ready)
        self.dynamic_ready.extend(other.dynamic_ready)
        self.calls += other.calls
        self.failed.extend(other.failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "turns": len(self.stages["e2e"]),
            "stages_ms": {name: summary(v) for name, v in self.stages.items()},
            "static_prompt_ready_ms": summary(self.static_ready),
            "dynamic_prompt_ready_ms": summary(self.dynamic_ready),
            "caller_errors": self.failed,
        }


def example_paths(root: Path, name: str) -> tuple[Path, Path, Path]:
    """The flow, its caller script and the webhook fixtures of one example."""
    flow = root / "flows" / f"{name}.yaml"
    caller = root / "flows" / "callers" / f"{name}.yaml"
    hooks = root / "flows" / "callers" / "webhooks.yaml"
    for path in (flow, caller, hooks):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run the latency bench from the repository root "
                "(or pass --root), where flows/ holds the example flows")
    return flow, caller, hooks


async def run_example(
    root: Path, name: str, *, tts_cache: bool = True, speech: str = "offline"
) -> tuple[dict[str, Any], set[str]]:
    """One call of example `name`: its JSON result and the flow's static prompts.

    `speech="fake"` runs it with the scripted fakes on a virtual clock (for tests: the
    figures are then the fakes' own, not the offline stack's)."""
    import datetime as dt

    import httpx

    from callcenter.callsession.static_prompts import static_prompts
    from callcenter.flow.validate import check_flow_text
    from callcenter.scenarios.canned import WebhookFixtures
    from callcenter.testing.local_call import run_local_call
    from callcenter.testing.script import CallerScript

    flow_path, caller_path, hooks = example_paths(root, name)
    flow, problems = check_flow_text(flow_path.read_text(encoding="utf-8"), str(flow_path))
    if flow is None:
        raise ValueError(f"{flow_path} does not validate: {problems}")
    script = CallerScript.from_file(caller_path)
    http = httpx.AsyncClient(transport=WebhookFixtures(hooks))
    try:
        result = await run_local_call(
            flow, script, speech=speech, http=http, tts_cache=tts_cache,  # type: ignore[arg-type]
            started_at=dt.datetime.fromisoformat(CALL_TIMES.get(name, CALL_TIMES[EXAMPLES[0]])))
    finally:
        await http.aclose()
    return result.to_json(), set(static_prompts(flow))


async def run_latency_bench(
    root: Path, *, rounds: int = 1, flows: Sequence[str] = EXAMPLES, tts_cache: bool = True,
    progress: Callable[[str], None] | None = None, speech: str = "offline",
    early_stt: bool = True, compare_early: bool = False,
) -> dict[str, Any]:
    """Run `rounds` calls of each example flow, one at a time; returns the JSON report.

    `early_stt=False` turns off decoding the speech so far before the VAD's end of speech
    (`speech/stt/utterance.py`). `compare_early` runs every call twice, without it and
    then with it, side by side (under the same load), and adds the first as
    `early_stt_off`."""
    from callcenter.speech.stt import utterance

    per_flow = {name: FlowFigures() for name in flows}
    off_flow = {name: FlowFigures() for name in flows}
    variants = [(False, off_flow), (True, per_flow)] if compare_early else [
        (early_stt, per_flow)]
    started = time.monotonic()
    was = utterance.early_decoding
    try:
        for r in range(rounds):
            for name in flows:
                for early, into in variants:
                    if progress is not None:
                        progress(f"round {r + 1}/{rounds}: {name}"
                                 f" (early stt {'on' if early else 'off'})")
                    utterance.early_decoding = early
                    result, static = await run_example(root, name, tts_cache=tts_cache,
                                                       speech=speech)
                    into[name].add_call(result, static)
    finally:
        utterance.early_decoding = was
    extra: dict[str, Any] = {}
    if compare_early:
        off_total = FlowFigures()
        for figures in off_flow.values():
            off_total.merge(figures)
        extra["early_stt_off"] = {"all": off_total.to_json(),
                                  "flows": {n: f.to_json() for n, f in off_flow.items()}}
    total = FlowFigures()
    for figures in per_flow.values():
        total.merge(figures)
    out = total.to_json()
    e2e_p50 = out["stages_ms"]["e2e"]["p50"]
    static_p50 = out["static_prompt_ready_ms"]["p50"]
    return {
        "bench": "latency",
        "host": {"machine": platform.machine(), "python": platform.python_version()},
        "rounds": rounds,
        "speech": speech,
        "tts_cache": tts_cache,
        "early_stt": early_stt or compare_early,
        "seconds": round(time.monotonic() - started, 1),
        "all": out,
        "flows": {name: f.to_json() for name, f in per_flow.items()},
        "targets": {
            "e2e_p50_ms": E2E_P50_TARGET_MS,
            "e2e_p50_ok": e2e_p50 is not None and e2e_p50 <= E2E_P50_TARGET_MS,
            "static_prompt_ready_p50_ms": STATIC_READY_TARGET_MS,
            "static_prompt_ready_ok": (static_p50 is not None
                                       and static_p50 <= STATIC_READY_TARGET_MS),
        },
        **extra,
        "median_e2e_ms_by_flow": {
            name: (statistics.median(f.stages["e2e"]) if f.stages["e2e"] else None)
            for name, f in per_flow.items()},
    }


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
