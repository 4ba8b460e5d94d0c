"""`bench voice --phases/--steps`: run only the livekit density steps one asks for."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from callcenter.bench import voice
from callcenter.cli.bench import app, render


def test_phases_are_checked() -> None:
    assert voice.check_phases(["media", "density"]) == {"media", "density"}
    with pytest.raises(ValueError, match="unknown bench voice phase densty"):
        voice.check_phases(["densty"])
    with pytest.raises(ValueError, match="use some of"):
        voice.check_phases([])


@pytest.mark.parametrize("args", [["--phases", "overhead,nope"], ["--steps", "10,x"],
                                  ["--steps", "0"], ["--steps", ","]])
def test_bad_phases_or_steps_stop_before_any_work(args: list[str]) -> None:
    out = CliRunner().invoke(app, ["voice", *args])
    assert out.exit_code == 2


async def test_only_the_chosen_phase_and_steps_run(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[tuple[tuple[int, ...], str, bool]] = []

    async def density(plan: voice.BenchPlan, _voice: object, _progress: object,
                      room_mode: str = "local", escalated_pct: float = 0.0) -> dict[str, Any]:
        ran.append((plan.density_ns, room_mode, plan.media_target_step))
        return {"room": room_mode, "steps": {}, "max_calls": 0}

    async def not_run(*_a: object, **_k: object) -> dict[str, Any]:
        raise AssertionError("a phase that was not asked for ran")

    class Voice:
        def __init__(self, *_a: object) -> None:
            pass

        def speak(self, _line: str) -> None:
            return None

    monkeypatch.setattr(voice, "bench_density", density)
    monkeypatch.setattr(voice, "bench_overhead", not_run)
    monkeypatch.setattr(voice, "bench_offline", not_run)
    monkeypatch.setattr(voice, "bench_static_prompts", not_run)
    monkeypatch.setattr(voice, "CallerVoice", Voice)
    monkeypatch.setattr(voice, "realtime_process", lambda: None)
    result = await voice.run_voice_bench(quick=True, room="livekit", escalated_pct=20.0,
                                         processes=2, phases={"media"}, density_steps=(30, 10))
    assert ran == [((10, 30), "livekit", False)]  # sorted; no 150 target step added
    assert set(result) >= {"density_livekit", "phases_run"} and "density" not in result
    assert "turn_overhead_ms" not in result and "density_escalated" not in result
    rows = render(result).columns[0]._cells
    assert any("through livekit" in r for r in rows) and not any("barge-in" in r for r in rows)
