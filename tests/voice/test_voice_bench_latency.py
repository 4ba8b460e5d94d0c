"""`callcenter bench latency`: the example flows' calls, broken down stage by stage.

The bench's own figures come from the offline stack in real time (minutes); here it runs
on the scripted fakes and a virtual clock, which checks what it measures and reports,
never how fast anything is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.bench.latency import EXAMPLES, STAGES, FlowFigures, run_latency_bench

ROOT = Path(__file__).resolve().parents[2]


async def test_every_example_flow_reports_each_stage_of_its_answered_turns() -> None:
    result = await run_latency_bench(ROOT, speech="fake")
    assert set(result["flows"]) == set(EXAMPLES)
    for name, figures in result["flows"].items():
        assert figures["caller_errors"] == [], name  # each call went the scripted way
        assert figures["turns"] >= 1, name
        for stage in STAGES:
            assert figures["stages_ms"][stage]["n"] == figures["turns"], (name, stage)
        # The greeting at least is a static prompt of every example flow.
        assert figures["static_prompt_ready_ms"]["n"] >= 1, name
    assert result["all"]["turns"] == sum(f["turns"] for f in result["flows"].values())
    assert set(result["targets"]) >= {"e2e_p50_ok", "static_prompt_ready_ok"}


def test_a_call_json_is_split_into_stages_and_static_or_other_speech() -> None:
    figures = FlowFigures()
    turn = {"end_of_utterance_delay_ms": 450.0, "stt_final_latency_ms": 300.0,
            "flow_ms": 20.0, "first_audio_ms": 5.0, "e2e_ms": 475.0, "interrupted": False}
    figures.add_call({
        "turns": [turn, {**turn, "e2e_ms": None}, {**turn, "interrupted": True}],
        "speech": [{"text": "Hello.", "ready_ms": 1.0}, {"text": "Order 42.", "ready_ms": 90.0}],
        "caller_error": None,
    }, static={"Hello."})
    out = figures.to_json()
    assert out["turns"] == 1  # unanswered and cut-short turns have no clean breakdown
    assert out["stages_ms"]["flow"]["p50"] == 20.0
    assert out["stages_ms"]["e2e"]["p99"] == 475.0
    assert out["static_prompt_ready_ms"]["p50"] == 1.0
    assert out["dynamic_prompt_ready_ms"]["p50"] == 90.0


async def test_a_missing_example_says_where_to_run_from(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="repository root"):
        await run_latency_bench(tmp_path, speech="fake")


async def test_compare_early_runs_each_call_both_ways_side_by_side() -> None:
    result = await run_latency_bench(ROOT, speech="fake", flows=["customer_support"],
                                     compare_early=True)
    off, on = result["early_stt_off"], result
    assert off["flows"]["customer_support"]["calls"] == 1
    assert on["flows"]["customer_support"]["calls"] == 1
    assert off["all"]["turns"] == on["all"]["turns"] >= 1
