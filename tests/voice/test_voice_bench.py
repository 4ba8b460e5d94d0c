"""The voice benchmark: what it measures from ground truth, its report, its CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from callcenter.bench.harness import STOP_LINE, CallResult, measure, percentile
from callcenter.bench.voice import BenchPlan, bench_overhead
from callcenter.cli import app
from callcenter.cli.bench import render
from callcenter.testing.caller import AgentSegment, CallerReport, SaidLine
from callcenter.testing.voices import CallerVoice
from callcenter.voice import TurnMetrics


def test_measure_uses_caller_ground_truth_for_turns_and_barge_ins() -> None:
    report = CallerReport(
        said=[
            SaidLine("check my order", 0.0, 100.0, 900.0),
            SaidLine("tell me about the delivery options", 2000.0, 2000.0, 3500.0),
            SaidLine(STOP_LINE, 4400.0, 4400.0, 5000.0),
        ],
        agent=[AgentSegment(1302.0, 1900.0), AgentSegment(3900.0, 4712.0)],
    )
    m = measure([CallResult(report, frames=100, late_frames=1)])
    assert m.turn_overhead_ms == [pytest.approx(2.0)]  # 1302 - 900 - 400
    assert m.barge_in_ms == [pytest.approx(12.0)]  # 4712 - 4400 - 300
    assert (m.frames, m.late_frames) == (100, 1)
    assert measure([RuntimeError("boom")]).failed_calls == 1


def test_stages_split_each_answered_turn_and_skip_interrupted_ones() -> None:
    report = CallerReport(said=[], agent=[])
    answered = TurnMetrics("caller", 900.0, end_of_utterance_delay_ms=410.0,
                           stt_final_latency_ms=50.0, llm_ttft_ms=350.0, tts_ttfb_ms=120.0,
                           e2e_ms=886.0)
    cut = TurnMetrics("caller", 3000.0, end_of_utterance_delay_ms=400.0, e2e_ms=500.0,
                      interrupted=True)
    unanswered = TurnMetrics("caller", 5000.0, end_of_utterance_delay_ms=400.0)
    m = measure([CallResult(report, turns=[answered, cut, unanswered])])
    stages = m.stages()
    assert stages["endpointing"] == {"p50": 410.0, "p95": 410.0}
    assert stages["stt_final"]["p50"] == 50.0
    assert stages["llm_first_token"]["p50"] == 350.0
    assert stages["tts_first_audio"]["p50"] == 120.0
    assert stages["flow_and_rest"]["p50"] == pytest.approx(6.0)  # 886 - 410 - 350 - 120
    assert stages["e2e"]["p50"] == 886.0


def test_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([float(i) for i in range(101)], 99) == 99.0


def test_report_table_marks_targets() -> None:
    result = {
        "mode": "quick",
        "turn_overhead_ms": {"p50": 1.0, "p99": 12.0, "turns": 200},
        "barge_in_ms": {"p50": 10.0, "p99": 20.0, "count": 40},
        "density": {"steps": {"100": {"late_frame_pct": 0.0, "cpu_pct": 40.0, "rss_mb": 190.0,
                                      "turn_overhead_p99_ms": 6.0}}, "max_calls": 100},
        "offline_e2e_ms": {"p50": 900.0, "p95": 1000.0},
    }
    from rich.console import Console

    console = Console(record=True, width=140)
    console.print(render(result))
    text = console.export_text()
    assert "1 / 12" in text and "miss" in text  # p99 12 ms misses the 10 ms target
    assert "900 / 1000" in text


def test_bench_voice_command_is_registered() -> None:
    out = CliRunner().invoke(app, ["bench", "voice", "--help"])
    assert out.exit_code == 0
    assert "--quick" in out.output and "--json" in out.output


@pytest.mark.slow
async def test_overhead_phase_measures_real_calls_in_real_time() -> None:
    plan = BenchPlan(2, 1, 1, (), 0.0, 0)
    result = await bench_overhead(plan, CallerVoice("espeak", "phone"), lambda _: None)
    assert result["failed_calls"] == 0
    assert result["turn_overhead_ms"]["turns"] == 2
    assert result["barge_in_ms"]["count"] == 2
    assert 0 <= result["turn_overhead_ms"]["p99"] < 50
    assert 0 <= result["barge_in_ms"]["p99"] < 60
