"""benchmarks/peers: the table/JSON builder and the shared measure, on synthetic numbers.

The real peer run is a manual bench (`benchmarks/peers/run`: it installs Pipecat and
LiveKit Agents in their own virtualenvs and takes minutes); nothing here needs those
virtualenvs, and nothing is skipped.
"""

from __future__ import annotations

import array
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.voice.session import VoiceSession

PEERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"peers_{name}", PEERS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


common = _load("common")
table = _load("table")


def step(n: int, late: float, cpu: float = 50.0, **kw: object) -> dict[str, object]:
    return {"sessions": n, "late_frame_pct": late, "cpu_pct": cpu, "errors": [],
            "rss_mb": kw.get("rss_mb"),
            "cpu_s_per_audio_s_per_session": kw.get("cpu_s"),
            "turn_overhead_ms": {"p50": kw.get("p50"), "p99": kw.get("p99")},
            "rss_per_session_mb": kw.get("rss")}


# ------------------------------------------------------------------ the late-frame rule

def _ours_late(lags_ms: list[float]) -> tuple[int, int]:
    """Our VoiceSession's own rule, run on frames that arrive `lag` ms after they end."""
    now = {"ms": 0.0}
    fake = SimpleNamespace(clock=SimpleNamespace(now_ms=lambda: now["ms"]),
                           frames_seen=0, late_frames=0, _offset_ms=None)
    for k, lag in enumerate(lags_ms):
        frame = AudioFrame(np.zeros(160, np.int16), 8000, 20.0 * k)
        now["ms"] = frame.end_ms + lag
        VoiceSession.observe_frame(fake, frame)  # type: ignore[arg-type]
    return fake.frames_seen, fake.late_frames


def test_late_counter_is_our_voice_sessions_rule() -> None:
    lags = [5.0, 5.0, 26.0, 24.9, 3.0, 24.0, 23.0, 2.0, 40.0, 22.1]
    counter = common.LateCounter()
    for lag in lags:
        counter.observe(lag)
    # 26 (21 over the 5 ms floor), 24 (21 over the new 3 ms floor), 40 and 22.1 (over 2 ms)
    assert (counter.frames, counter.late) == (10, 4)
    assert _ours_late(lags) == (10, 4)


def test_late_counter_keeps_its_floor_while_not_counting() -> None:
    counter = common.LateCounter(counting=False)
    counter.observe(1.0)  # the warm-up sets the floor but is not counted
    counter.counting = True
    counter.observe(30.0)
    assert (counter.frames, counter.late) == (1, 1)


def test_session_lag_is_taken_in_order_of_due_times(monkeypatch: pytest.MonkeyPatch) -> None:
    w = _workload()
    s = common.Session(0, w)
    s.due.extend([100.0, 100.02])
    clock = iter([100.001, 100.05])
    import time as _time

    monkeypatch.setattr(_time, "monotonic", lambda: next(clock))
    s.vad_took_frame()
    s.vad_took_frame()
    s.vad_took_frame()  # nothing in flight: ignored
    assert s.late.frames == 2 and s.late.late == 1  # 1 ms, then 30 ms: 29 over the floor


def test_reply_starts_when_it_arrives_within_the_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as _time

    s = common.Session(0, _workload())
    s.last_tick = 50.0
    monkeypatch.setattr(_time, "monotonic", lambda: 50.0125)  # 12.5 ms after the last tick
    s.queue_reply(array.array("h", [900] * 160))
    s.queue_reply(array.array("h", [700] * 160))  # queued behind: no second gap
    assert list(s.playout[:100]) == [0] * 100 and s.playout[100] == 900
    assert len(s.playout) == 100 + 320
    heard = common.Heard()
    heard.frame(40.0, s.playout[:160], 8000)
    assert heard.starts == [52.5]


# ------------------------------------------------------------------ workload and turns

def _workload(lead_step: float = 173.0) -> Any:
    rate = 8000
    caller = array.array("h", [0] * rate * 4)  # 4 s cycle
    for i in range(rate // 2, rate):  # a "line" voiced from 0.5 s to 1.0 s
        caller[i] = 1000
    return common.Workload(
        rate=rate, caller=caller, reply=array.array("h", [500] * 800), reply_text="ok",
        lines=[common.Line("hello", 500.0, 1000.0)], stt_final_s=0.05, llm_ttft_s=0.35,
        tts_ttfb_s=0.12, endpointing_ms=400.0, lead_step_ms=lead_step)


def test_sessions_start_their_track_at_different_offsets() -> None:
    w = _workload()
    assert [w.lead_ms(i) for i in range(4)] == [0.0, 180.0, 340.0, 520.0]
    assert w.lead_ms(9) == 60.0  # 9 x 173 = 1557 ms, mod 1.5 s = 57 ms, to whole frames
    # Session 0 hears the line at 0.5 s; session 1 at 0.5 s + 180 ms; the cycle repeats.
    assert w.lines_until(0, 9000.0) == [("hello", 500.0, 1000.0), ("hello", 4500.0, 5000.0),
                                        ("hello", 8500.0, 9000.0)]
    assert w.lines_until(1, 1000.0) == [("hello", 680.0, 1180.0)]
    loud = [k for k in range(200) if max(array.array("h", w.frame(1, k))) > 0]
    assert loud[0] == (500 + 180) // 20 and loud[-1] == (1000 + 180) // 20 - 1
    assert w.frame(0, 200) == w.frame(0, 0)  # frame 200 = 4 s: the cycle's start again


def test_turn_overhead_subtracts_endpointing_and_provider_delays() -> None:
    w = _workload()
    heard = common.Heard()
    rate = w.rate
    quiet = array.array("h", [0] * 160)
    # Reply starts 10 samples into the frame at 1880 ms: 1881.25 ms; the voice ended at 1000.
    reply = array.array("h", [0] * 10 + [800] * 150)
    for k in range(300):
        ts = 20.0 * k
        heard.frame(ts, reply if 1880.0 <= ts < 2600.0 else quiet, rate)
    assert heard.starts == [1881.25]
    got = common.turn_overheads(w, 0, heard, counted_from_ms=0.0, end_ms=6000.0)
    assert got == [1881.25 - 1000.0 - 400.0 - 470.0]
    # A line whose voice ended before the counted window is not a turn of this step...
    assert common.turn_overheads(w, 0, heard, counted_from_ms=1500.0, end_ms=6000.0) == []
    # ...nor one that ends too close to the window's end for its reply to be heard.
    assert common.counted_lines(w, 0, 0.0, 6500.0) == [1000.0]
    assert common.counted_lines(w, 0, 0.0, 6501.0) == [1000.0, 5000.0]
    # The second line is expected but unanswered: it gets no figure (and shows as
    # turns < expected_turns in the step).
    assert common.turn_overheads(w, 0, heard, counted_from_ms=0.0, end_ms=9000.0) == [got[0]]


def test_step_result_per_session_figures() -> None:
    r = common.step_result(
        framework="x", version="1", sessions=10, wall_s=10.0, cpu_s=5.0, frames=5000,
        late=10, overheads=[1.0, 2.0, 30.0], rss0_mb=100.0, rss1_mb=150.0,
        expected_turns=4)
    # 5000 frames = 100 s of caller audio over 10 sessions; 5 CPU-s over it
    assert r["cpu_s_per_audio_s_per_session"] == 0.05
    assert r["late_frame_pct"] == 0.2 and r["cpu_pct"] == 50.0
    assert r["rss_per_session_mb"] == 5.0
    assert r["turn_overhead_ms"] == {"p50": 2.0, "p99": 30.0, "turns": 3, "expected_turns": 4}


# ------------------------------------------------------------------ the table

def test_max_sessions_stops_at_the_first_failing_step() -> None:
    steps = [step(20, 0.8), step(5, 0.0), step(10, 0.1), step(40, 0.2)]
    assert table.max_sessions(steps) == 10  # 40 passed after 20 failed: not capacity
    assert table.max_sessions([step(5, 0.5)]) == 0  # 0.5 % is not under 0.5 %
    failed = step(5, 0.0)
    failed["errors"] = ["exit 1"]
    assert table.max_sessions([failed]) == 0


def test_saturation_is_late_frames_or_a_full_core() -> None:
    assert not table.saturated(step(10, 0.1, cpu=80.0))
    assert table.saturated(step(10, 0.1, cpu=100.0))
    assert table.saturated(step(10, 0.6, cpu=20.0))
    assert table.saturated({"sessions": 10, "errors": ["timed out"]})


def test_table_rows_ratios_and_json() -> None:
    doc = table.build({
        "callcenter": {"version": "0.1.0", "steps": [
            step(10, 0.0, cpu=12.0, cpu_s=0.01, p50=2.0, p99=5.0, rss=1.5, rss_mb=140.0),
            step(50, 0.1, cpu=32.0, rss_mb=150.0), step(100, 1.0, cpu=40.0, rss_mb=162.5)]},
        "pipecat": {"version": "1.14.0", "steps": [
            step(10, 0.2, cpu_s=0.06, p50=80.0, p99=200.0, rss=20.0), step(20, 0.9)]},
        "livekit-agents": {"version": "1.8.9", "steps": [step(5, 0.7)]},
    })
    rows = {r["framework"]: r for r in doc["rows"]}
    assert rows["callcenter"]["max_sessions"] == 50
    assert rows["pipecat"]["sessions_ours_over_theirs"] == 5.0
    assert rows["pipecat"]["cpu_theirs_over_ours"] == 6.0
    # No passing step and no 10-session step: no ratio rather than a division by zero.
    assert rows["livekit-agents"]["max_sessions"] == 0
    assert rows["livekit-agents"]["sessions_ours_over_theirs"] is None
    assert rows["livekit-agents"]["cpu_theirs_over_ours"] is None
    lines = doc["table"].splitlines()
    assert lines[0].startswith("| framework | version | max sessions/process")
    # Marginal RSS: (162.5 - 140) MB over the 90 sessions between the smallest and largest.
    assert rows["callcenter"]["rss_marginal_mb_per_session"] == 0.25
    # Marginal CPU from passing steps only: (32 - 12) % of a core over 40 added sessions.
    assert rows["callcenter"]["cpu_marginal_s_per_audio_s_per_session"] == 0.005
    assert rows["pipecat"]["cpu_marginal_s_per_audio_s_per_session"] is None  # one pass
    assert lines[2] == ("| callcenter | 0.1.0 | 50 | 0.0100 (0.0050) | 2.0 / 5.0 | 1.50 (0.25) "
                        "| 1x | 1x |")
    assert lines[3] == ("| pipecat | 1.14.0 | 10 | 0.0600 (-) | 80.0 / 200.0 | 20.00 (-) "
                        "| 5.00x | 6.00x |")
    assert lines[4] == "| livekit-agents | 1.8.9 | 0 | - (-) | - / - | - (-) | - | - |"
    json.dumps(doc)  # JSON-ready


def test_runner_refuses_bad_flags_before_doing_anything() -> None:
    for args, words in ((["--sessions", "5,ten"], "whole numbers"),
                        (["--sessions", "0,5"], "at least 1 session"),
                        (["--seconds", "0.5"], "at least 2 counted seconds"),
                        (["--frameworks", "callcenter,rasa"], "unknown ['rasa']")):
        done = subprocess.run([sys.executable, str(PEERS / "runner.py"), *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert words in done.stderr, (args, done.stderr)


def test_run_end_to_end_for_ours_writes_the_table(tmp_path: Path) -> None:
    """The runner itself (workload made with our eSpeak voice, a step in a fresh process,
    the JSON) on callcenter only: the peers' virtualenvs are not needed for this."""
    out = tmp_path / "peers.json"
    done = subprocess.run(
        [str(PEERS / "run"), "--frameworks", "callcenter", "--sessions", "2", "--seconds", "6",
         "--json", str(out)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    (row,) = doc["rows"]
    (st,) = row["steps"]
    assert row["framework"] == "callcenter" and st["sessions"] == 2 and not st["errors"]
    # Which caller lines are turns of the window follows from the workload alone.
    assert st["turn_overhead_ms"]["expected_turns"] == 2
    assert st["turn_overhead_ms"]["turns"] >= 1  # the calls answered (not a timing figure)
    assert st["frames"] > 0 and st["cpu_s_per_audio_s_per_session"] > 0
    assert doc["table"].splitlines()[2].startswith("| callcenter |")
