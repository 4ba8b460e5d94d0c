"""`bench voice`'s all-cores density and escalated mix, on real processes and real calls.

Real time (the calls run on the wall clock, real Silero VAD), small: two processes of two
calls each; one escalated call. What is checked is that the work really happened (every
process carried its calls, the supervisor was heard, the agent stayed quiet), never how
fast it was.
"""

from __future__ import annotations

import asyncio

import pytest

from callcenter.bench.voice_cores import all_cores_step, child_command, combine, main, split_calls
from callcenter.bench.voice_mix import (
    CALLER_MIX_LINES,
    MIX_LINES,
    SUPERVISOR_LINES,
    EscalatedCall,
    escalated_indices,
)
from callcenter.rooms.clock import RealClock
from callcenter.testing.voices import CallerVoice


async def test_two_processes_each_carry_their_calls_over_one_window() -> None:
    step = await asyncio.wait_for(all_cores_step(4, 2, 5.0, "local", escalated_pct=50.0), 240)
    assert (step["calls"], step["processes"], step["failed_calls"]) == (4, 2, 0)
    per = step["per_process"]
    assert [p["calls"] for p in per] == [2, 2]
    # Both processes counted frames and measured answered turns in the window.
    assert all(p["turns"] > 0 for p in per), per
    assert step["turns"] == sum(p["turns"] for p in per)
    assert step["frames"] > 0
    # One escalated call per process: taken over, the supervisor heard, the agent silent.
    assert step["escalated_calls"] == step["taken_over"] == 2
    assert step["supervisor_lines_transcribed"] > 0
    assert step["agent_heard_while_escalated"] == 0
    for key in ("late_frame_pct", "cpu_pct", "rss_mb", "rss_per_call_mb",
                "turn_overhead_p50_ms", "turn_overhead_p99_ms"):
        assert key in step, f"the all-cores step has the density step's {key}"


async def test_escalated_call_transcribes_the_supervisor_and_the_agent_says_nothing() -> None:
    voice = CallerVoice("espeak", "phone")
    for line in MIX_LINES:
        voice.speak(line)
    call = EscalatedCall(RealClock(), voice, 3, seed=0)
    result = await asyncio.wait_for(call.run(), 60)
    assert call.taken_over and call.call.state.was_escalated
    heard = call.transcribed("supervisor")
    assert heard, "the AI transcribes the supervisor's stream"
    assert set(heard) <= set(SUPERVISOR_LINES), heard
    said_by_caller = [line.text for line in result.report.said]
    assert call.transcribed("caller") == said_by_caller
    assert set(said_by_caller) <= set(CALLER_MIX_LINES)
    assert result.report.agent == [], "the caller heard the agent while escalated"
    assert call.transcribed("agent") == []
    assert result.frames > 0


def test_escalated_share_is_spread_evenly_and_bounded() -> None:
    assert escalated_indices(10, 20) == {0, 5}
    assert len(escalated_indices(150, 20)) == 30
    assert escalated_indices(7, 0) == set()
    with pytest.raises(ValueError, match="between 0 and 100"):
        escalated_indices(10, 120)


def test_calls_split_over_processes_and_bad_splits_say_why() -> None:
    assert split_calls(301, 2) == [151, 150]
    with pytest.raises(ValueError, match="at least one call per process"):
        split_calls(1, 2)
    with pytest.raises(ValueError, match="at least 1"):
        split_calls(10, 0)


def test_child_command_passes_the_room_mode_and_the_mix_through() -> None:
    cmd = child_command(150, 5.0, "sip", 20.0)
    assert cmd[1:3] == ["-m", "callcenter.bench.voice_cores"]
    assert cmd[cmd.index("--room") + 1] == "sip"
    assert cmd[cmd.index("--calls") + 1] == "150"
    assert cmd[cmd.index("--escalated-pct") + 1] == "20"


def test_child_rejects_an_unknown_room(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--calls", "2", "--room", "webrtc"])
    assert "use one of local, livekit, sip" in capsys.readouterr().err


def test_combined_step_takes_the_worst_process() -> None:
    def part(calls: int, late: float, p99: float, frames: int) -> dict[str, object]:
        return {"calls": calls, "late_frame_pct": late, "cpu_pct": 60.0, "rss_mb": 100.0,
                "rss_per_call_mb": 1.5, "turn_overhead_p50_ms": 4.0,
                "turn_overhead_p99_ms": p99, "turns": 10, "frames": frames, "failed_calls": 0}

    step = combine([part(150, 0.1, 9.0, 1000), part(150, 0.4, 15.0, 3000)])
    assert (step["calls"], step["late_frame_pct"], step["turn_overhead_p99_ms"]) == (
        300, 0.4, 15.0)
    assert step["late_frame_pct_all"] == 0.325  # 13 late frames of 4000
    assert (step["cpu_pct"], step["turns"], step["frames"]) == (120.0, 20, 4000)


def test_summary_table_shows_the_mix_and_every_core() -> None:
    from rich.console import Console

    from callcenter.cli.bench import render

    step = {"calls": 300, "late_frame_pct": 0.2, "cpu_pct": 150.0, "rss_mb": 400.0,
            "turn_overhead_p99_ms": 12.0, "supervisor_lines_transcribed": 41}
    result = {
        "mode": "quick", "turn_overhead_ms": {"p50": 3.0, "p99": 8.0, "turns": 201},
        "barge_in_ms": {"p50": 20.0, "p99": 30.0}, "density": {"steps": {}, "max_calls": 150},
        "density_escalated": {"steps": {"300": step}, "max_calls": 300, "escalated_pct": 20.0},
        "density_all_cores": {"room": "local", "processes": 2, "steps": {"300": step},
                              "max_calls": 300},
    }
    out = Console(record=True, width=250)
    out.print(render(result))
    text = out.export_text()
    assert "density max calls, 20 % escalated (one process)" in text
    assert "density max calls, all cores (2 processes, local)" in text
    assert "0.2 / 150 / 12" in text
