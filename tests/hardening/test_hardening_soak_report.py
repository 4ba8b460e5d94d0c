"""`bench soak`'s verdict counts what it claims: lost calls, questions asked twice, post-call
records missing, and jobs that ran more than once, from the stored rows (SQLite)."""

from __future__ import annotations

import random
import time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from callcenter import migrate
from callcenter.bench.soak import _Call, _report, _Soak
from callcenter.db import engine_for
from callcenter.models import Call, PostcallJob, Utterance, utcnow
from callcenter.postcall import synthetic
from callcenter.testing.demo import GOODBYE, QUESTIONS


def _engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'soak.db'}"
    migrate.upgrade(url)
    return engine_for(url)


def _said(t: float, *, twice: bool = False) -> list[list[str]]:
    lines = [[f"{t + i:.3f}", q] for i, (_slot, q) in enumerate(QUESTIONS)]
    if twice:
        lines.append([f"{t + 10:.3f}", QUESTIONS[0][1]])
    return [*lines, [f"{t + 20:.3f}", GOODBYE]]


def test_report_counts_lost_twice_missing_and_rerun(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    rng = random.Random(3)
    soak = _Soak(env={}, workdir=tmp_path, progress=lambda _m: None)
    now, wall = time.monotonic(), time.time()
    ids = [synthetic.create_call(engine, rng, ended_at=utcnow()) for _ in range(3)]
    with Session(engine) as s:
        for i, call_id in enumerate(ids):
            s.add(PostcallJob(call_id=call_id, status="done", attempts=2 if i == 2 else 1))
            if i != 1:  # the second call never got its record
                call = s.get(Call, call_id)
                assert call is not None
                call.processed_at = utcnow()
                s.add(call)
        s.commit()
    with Session(engine) as s:
        counts = {i: s.exec(select(func.count()).select_from(Utterance).where(
            Utterance.call_id == i)).one() for i in ids}
    for n, call_id in enumerate(ids):
        soak.calls[f"r{n}"] = _Call(f"r{n}", now, done_at=now + 30, call_id=call_id,
                                    utterances=counts[call_id])
    soak.calls["r-lost"] = _Call("r-lost", now)  # dispatched, never said goodbye
    said = {"r0": _said(wall), "r1": _said(wall, twice=True), "r2": _said(wall), "r-lost": []}
    result = _report(soak, said, engine, 60.0, 1.0, 0, now)
    assert result["calls_started"] == 4 and result["calls_completed"] == 3
    assert result["calls_lost"] == 1 and result["lost"] == ["r-lost"]
    assert result["calls_run_twice"] == 1
    assert result["postcall_records_missing"] == 1
    assert result["postcall_records_duplicated"] == 0
    assert result["postcall_jobs_run_more_than_once"] == 1
    assert result["turn_latency_ms"]["turns"] > 0
    assert result["ok"] is False
