"""`callcenter bench admin`: the admin's queries on 100,000 stored calls (PostgreSQL).

Seeds a fresh database by COPY (callcenter/bench/admin_seed.py), then times the same
domain functions the pages and `/api/v1` call: the calls list under each filter
(`records.calls.list_calls`), the call page (`records.call_detail.call_detail`) and the
flow diagram's node traffic for one day (`records.traffic.node_traffic`). Template
rendering is not included: callcenter/ does not import the web app.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from callcenter import migrate
from callcenter.bench.admin_seed import SeedResult, flow_version_number, seed_calls, seeded
from callcenter.db import engine_for
from callcenter.models import Disposition
from callcenter.postcall.metrics import percentile
from callcenter.records.call_detail import call_detail
from callcenter.records.calls import CallFilters, list_calls
from callcenter.records.traffic import node_traffic

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGETS_MS = {"calls_list_p95": 100.0, "call_page_p95": 100.0, "node_traffic_day_p95": 300.0}


def _stats(values: list[float]) -> dict[str, Any]:
    return {"n": len(values),
            **{f"p{q}": round(v, 2) if (v := percentile(values, q)) is not None else None
               for q in (50, 95, 99)},
            "max": round(max(values), 2) if values else None}


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def _list_scenarios(seed: SeedResult, rng: random.Random) -> dict[str, Callable[[], CallFilters]]:
    """Each filter the calls page offers, with values drawn afresh per run."""
    flow = "customer_support"
    days = (seed.until - seed.since).days

    def day() -> tuple[datetime, datetime]:
        start = seed.since + timedelta(days=rng.randrange(days))
        return start, start + timedelta(days=1)

    return {
        "none": lambda: CallFilters(),
        "status": lambda: CallFilters(status=rng.choice(["ended", "failed"])),
        "disposition": lambda: CallFilters(disposition=rng.choice(list(Disposition))),
        "escalated": lambda: CallFilters(escalated=rng.choice([True, False])),
        "dialed": lambda: CallFilters(dialed=rng.choice(seed.dialed)),
        "caller": lambda: CallFilters(caller=rng.choice(seed.callers)),
        "caller_prefix": lambda: CallFilters(caller=rng.choice(seed.callers)[:7]),
        "flow": lambda: CallFilters(flow=flow),
        "flow_version": lambda: CallFilters(flow=flow, version=rng.choice(_VERSIONS[flow])),
        "time_range_day": lambda: CallFilters(*day()),
        "combined": lambda: CallFilters(since=seed.since + timedelta(days=rng.randrange(days)),
                                        flow=flow, disposition=Disposition.RESOLVED,
                                        escalated=False),
    }


_VERSIONS: dict[str, list[int]] = {}


def measure(engine: sa.Engine, seed: SeedResult, *, rounds: int = 40,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Time the list (every filter, first and a deep page), the call page and node traffic."""
    rng = random.Random(5)
    say = progress or (lambda _m: None)
    for flow, ids in seed.version_ids.items():
        _VERSIONS[flow] = [flow_version_number(engine, i)[1] for i in ids]
    out: dict[str, Any] = {}
    with Session(engine) as db:
        list_calls(db)  # warm the connection and the plan cache once
        say("timing the calls list")
        per: dict[str, list[float]] = {}
        for name, make in _list_scenarios(seed, rng).items():
            for i in range(rounds):
                filters = make()
                page = 1 if i % 4 else rng.randint(2, 20)  # a quarter on later pages
                t0 = time.perf_counter()
                list_calls(db, filters, page=page)
                per.setdefault(name, []).append((time.perf_counter() - t0) * 1000.0)
        everything = [v for vs in per.values() for v in vs]
        out["calls_list_ms"] = {**_stats(everything),
                                "by_filter": {k: _stats(v) for k, v in per.items()}}
        say("timing the call page")
        sample = seed.call_ids
        out["call_page_ms"] = _stats([_timed(lambda: call_detail(db, rng.choice(sample)))
                                      for _ in range(rounds * 5)])
        say("timing node traffic for a day")
        days = (seed.until - seed.since).days
        day_ms, calls_seen = [], []
        for _ in range(rounds):
            start = seed.since + timedelta(days=rng.randrange(days))
            t0 = time.perf_counter()
            traffic = node_traffic(db, "customer_support", start, start + timedelta(days=1))
            day_ms.append((time.perf_counter() - t0) * 1000.0)
            calls_seen.append(traffic.calls)
        out["node_traffic_day_ms"] = {**_stats(day_ms),
                                      "calls_per_day_mean": round(sum(calls_seen)
                                                                  / len(calls_seen))}
        week = [_timed(lambda: node_traffic(db, "customer_support", seed.until - timedelta(7),
                                            seed.until)) for _ in range(5)]
        out["node_traffic_week_ms"] = _stats(week)  # for reference, no target
    checks = {
        "calls_list_p95": out["calls_list_ms"]["p95"],
        "call_page_p95": out["call_page_ms"]["p95"],
        "node_traffic_day_p95": out["node_traffic_day_ms"]["p95"],
    }
    out["targets_ms"] = TARGETS_MS
    # Timings on a shared machine depend on what else runs: the load is reported beside them.
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    out["ok"] = {k: v is not None and v <= TARGETS_MS[k] for k, v in checks.items()}
    return out


def _fresh_database(admin_url: str) -> str:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT",
                             connect_args={"connect_timeout": 5})
    name = f"cc_bench_admin_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(admin_url: str, url: str) -> None:
    engine_for(url).dispose()
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def run_admin_bench(*, calls: int = 100_000, days: int = 30, rounds: int = 40,
                    pg_admin_url: str = PG_ADMIN_URL, keep: bool = False,
                    database_url: str | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Seed a new PostgreSQL database (created from `pg_admin_url`), measure, drop it.

    With `database_url` (a database an earlier `keep` run seeded) nothing is seeded or
    dropped: it is migrated to head and measured again."""
    say = progress or (lambda _m: None)
    reuse = database_url is not None
    url = database_url or _fresh_database(pg_admin_url)
    try:
        say(f"migrating {url.rsplit('/', 1)[1]}")
        migrate.upgrade(url)
        engine = engine_for(url)
        t0 = time.perf_counter()
        if reuse:
            seed = seeded(engine)
            calls, days = seed.calls, (seed.until - seed.since).days
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        else:
            seed = seed_calls(engine, calls, days=days, progress=say)
        seed_s = time.perf_counter() - t0
        with engine.connect() as conn:
            counts = {t: int(conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one())
                      for t in ("calls", "utterances", "call_events", "escalations",
                                "call_transcripts")}
        result = {"database": "postgresql", "calls": calls, "days": days,
                  "seed_s": round(seed_s, 1), "rows": counts,
                  **measure(engine, seed, rounds=rounds, progress=say)}
        if keep or reuse:
            result["kept_database"] = url
        return result
    finally:
        if not keep and not reuse:
            _drop_database(pg_admin_url, url)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
