"""`callcenter bench sip`: N concurrent sipp calls into `callcenter dev`, N up until failure.

The bench starts `callcenter dev` itself (embedded default, its own data directory, free
ports), places one warm-up call, then for N = start, start + step, ... places N calls at
once with sipp (see `sip_caller`: PCMU speech and RFC 2833 keys into the customer-support
example). Everything it reports is read back from what the calls wrote to the database:

- `right_pct`: calls that ended with the expected flow outcome, slots and path, with the
  caller's speech in the transcript and the post-call record stored;
- `late_frame_pct`: the larger of the caller's RTP frames lost, late or dropped at the
  agent's jitter buffer (of those sent) and the agent's 20 ms send ticks that ran late;
- `turn_ms`: p50/p95 of the calls' answered turns (caller's speech end -> agent audio);
- `cpu_pct`: the dev process's CPU over the calls (100 = one core); `load_avg` says how
  busy the machine was besides.

`max_calls` is the largest N with every call right and under 0.5 % late frames.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from callcenter.bench.sip_caller import (
    BYE_WAIT_MS,
    CALLER_ID,
    EXPECTED_OUTCOME,
    EXPECTED_PATH,
    EXPECTED_SLOTS,
    NUMBER,
    DevProcess,
    dev_process,
    prepare_caller,
    run_sipp,
    sipp_argv,
)
from callcenter.db import engine_for
from callcenter.models import Call, CallEvent
from callcenter.records.call_detail import CallDetail, call_detail

Progress = Callable[[str], None]
LATE_LIMIT_PCT = 0.5
RECORD_WAIT_S = 180.0  # after sipp: the last records and post-call rows to land


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 3) if whole else 0.0


def _q(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def judge(detail: CallDetail, slots: dict[str, Any]) -> list[str]:
    """What is wrong with one stored call (empty: the call is right). `slots`: as stored
    (the detail's view masks the order number as `[NUMBER]`)."""
    wrong: list[str] = []
    ended = next((e.data for e in reversed(detail.events) if e.type == "call_ended"), {})
    if ended.get("outcome") != EXPECTED_OUTCOME:
        wrong.append(f"outcome {ended.get('outcome')!r}")
    for slot, value in EXPECTED_SLOTS.items():
        if str(slots.get(slot)) != value:
            wrong.append(f"{slot}={slots.get(slot)!r}")
    missing = [n for n in EXPECTED_PATH if n not in detail.path]
    if missing:
        wrong.append(f"path lacks {', '.join(missing)}")
    if not any(t.speaker == "caller" and t.kind == "speech" for t in detail.transcript):
        wrong.append("no caller speech in the transcript")
    if not detail.processed:
        wrong.append("no post-call record")
    return wrong


Stored = tuple[Call, CallDetail, dict[str, Any]]  # row, detail, slots as stored
_TOLD = ("caller_input", "no_input", "no_match", "node_entered", "call_ended")


def describe(detail: CallDetail) -> list[str]:
    """One call as short lines (ms, who, what), to say why a call went wrong."""
    lines = [(t.start_ms, f"{t.speaker}: {t.text[:70]}") for t in detail.transcript]
    lines += [(e.offset_ms, f"[{e.type} {e.data.get('node', '')} "
                            f"{e.data.get('text', e.data.get('outcome', ''))}]".replace(" ]", "]"))
              for e in detail.events if e.type in _TOLD]
    return [f"{ms / 1000:6.1f}s {what}" for ms, what in sorted(lines)]


def stored_slots(s: Session, call_id: str) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    for ev in s.exec(select(CallEvent).where(col(CallEvent.call_id) == call_id,
                                             col(CallEvent.type) == "slot_set")
                     .order_by(col(CallEvent.seq))):
        slots[str(ev.data.get("slot"))] = ev.data.get("value")
    return slots


def read_calls(url: str, since: datetime) -> list[Stored]:
    engine = engine_for(url)
    with Session(engine) as s:
        rows = s.exec(select(Call).where(col(Call.started_at) >= since,
                                         col(Call.caller_number) == CALLER_ID)).all()
        out = []
        for row in rows:
            detail = call_detail(s, row.id)
            if detail is not None:
                out.append((row, detail, stored_slots(s, row.id)))
        return out


async def settled(url: str, since: datetime, n: int, timeout_s: float) -> list[Stored]:
    """The step's calls once all `n` ended and were post-processed (or the wait ran out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        calls = await asyncio.to_thread(read_calls, url, since)
        # processed_at is post-call's last write (transcript, then disposition, then it).
        done = [c for c in calls if c[0].ended_at is not None and c[0].processed_at is not None]
        if len(done) >= n or time.monotonic() > deadline:
            return calls
        await asyncio.sleep(1.0)


def summarize(n: int, calls: list[Stored], cpu_s: float, wall_s: float,
              sipp_ok: int, sipp_failed: int) -> dict[str, Any]:
    """One step's figures from its stored calls."""
    problems: dict[str, int] = {}
    example: list[str] = []  # the first wrong call, told
    right = 0
    rx = {"sent": 0, "bad": 0}
    tx = {"ticks": 0, "late": 0}
    turns: list[float] = []
    for row, detail, slots in calls:
        wrong = judge(detail, slots)
        right += not wrong
        if wrong and not example:
            example = [f"call {row.id}: {'; '.join(wrong)}", *describe(detail)]
        for w in wrong:
            problems[w] = problems.get(w, 0) + 1
        rtp = (row.metrics or {}).get("rtp") or {}
        bad = sum(int(rtp.get(f"jitter_{k}", 0)) for k in ("lost", "late", "overflow"))
        rx["sent"] += int(rtp.get("jitter_received", 0)) + int(rtp.get("jitter_lost", 0))
        rx["bad"] += bad
        tx["ticks"] += int(rtp.get("packets_out", 0))
        tx["late"] += int(rtp.get("late_ticks", 0))
        turns += [t.e2e_ms for t in detail.turns if t.e2e_ms is not None]
    if len(calls) < n:
        problems["no record"] = n - len(calls)
    rx_pct, tx_pct = _pct(rx["bad"], rx["sent"]), _pct(tx["late"], tx["ticks"])
    return {
        "calls": n,
        "recorded": len(calls),
        "right": right,
        "right_pct": _pct(right, n),
        "problems": dict(sorted(problems.items(), key=lambda kv: -kv[1])),
        "wrong_call_example": example,
        "sipp": {"successful": sipp_ok, "failed": sipp_failed},
        "rx_frames": rx["sent"],
        "rx_late_or_lost_pct": rx_pct,
        "tx_late_tick_pct": tx_pct,
        "late_frame_pct": max(rx_pct, tx_pct),
        "turn_ms": {"p50": _q(turns, 50), "p95": _q(turns, 95), "turns": len(turns)},
        "cpu_pct": round(100.0 * cpu_s / wall_s, 1) if wall_s else None,
        "wall_s": round(wall_s, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def passed(step: dict[str, Any]) -> bool:
    return bool(step["right"] == step["calls"] and step["late_frame_pct"] < LATE_LIMIT_PCT)


async def run_step(dev: DevProcess, scenario: Path, work: Path, n: int) -> dict[str, Any]:
    since = datetime.now(UTC)
    cpu0, t0 = dev.cpu_seconds(), time.monotonic()
    sipp = await run_sipp(sipp_argv(scenario, dev.sip, n, work), work,
                          BYE_WAIT_MS / 1000 + 30 + n / 10 + 60)
    cpu1, t1 = dev.cpu_seconds(), time.monotonic()
    calls = await settled(dev.database_url, since, n, RECORD_WAIT_S)
    step = summarize(n, calls, cpu1 - cpu0, t1 - t0, sipp.successful, sipp.failed)
    step["rss_mb"] = _rss_mb(dev.proc.pid)
    return step


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def run_sip_bench(*, quick: bool = False, start: int = 10, step: int = 10,
                        limit: int = 200, progress: Progress | None = None,
                        work: Path | None = None) -> dict[str, Any]:
    """The whole bench (see the module docstring); `quick`: one step of 3 calls."""
    say = progress or (lambda _m: None)
    sizes = [3] if quick else list(range(start, limit + 1, step))
    with tempfile.TemporaryDirectory(prefix="callcenter-bench-sip-") as tmp:
        base = work or Path(tmp)
        scenario = await asyncio.to_thread(prepare_caller, base)
        say("starting callcenter dev (embedded default, offline speech)…")
        result: dict[str, Any] = {
            "bench": "sip", "quick": quick, "cpus": os.cpu_count(),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
            "scenario": {"number": NUMBER, "expected_slots": EXPECTED_SLOTS,
                         "expected_outcome": EXPECTED_OUTCOME, "path": list(EXPECTED_PATH)},
            "late_limit_pct": LATE_LIMIT_PCT, "steps": {}, "max_calls": 0,
        }
        async with dev_process(base, max_calls=max(sizes) + 5) as dev:
            # The flows' prompts are synthesized in the background after start: calls
            # placed before that is done measure the warm-up, not the calls.
            await dev.wait_for_line("tts cache:", 300.0)
            say("warm-up call…")
            result["warmup"] = await run_step(dev, scenario, base, 1)
            for n in sizes:
                say(f"{n} calls at once…")
                figures = await run_step(dev, scenario, base, n)
                result["steps"][str(n)] = figures
                say(f"  {figures['right']}/{n} right, late {figures['late_frame_pct']} %, "
                    f"turn p50 {figures['turn_ms']['p50']} ms, CPU {figures['cpu_pct']} %")
                if not passed(figures):
                    result["stopped_at"] = n
                    break
                result["max_calls"] = n
    return result


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
