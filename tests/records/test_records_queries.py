"""The calls list filters and the flow diagram's node traffic on a few thousand stored calls,
checked against a recount in Python of the same rows (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.accounts.times import as_utc
from callcenter.bench.admin_seed import SeedResult
from callcenter.models import Call, CallEvent, Escalation, Flow, FlowVersion
from callcenter.records.calls import COUNT_CAP, CallFilters, list_calls
from callcenter.records.traffic import ENDINGS, node_traffic
from tests.records.conftest import N


@pytest.fixture
def any_engine(seeded_db: tuple[Engine, SeedResult]) -> Engine:
    return seeded_db[0]


@pytest.fixture
def seeded(seeded_db: tuple[Engine, SeedResult]) -> SeedResult:
    return seeded_db[1]


def _all_calls(engine: Engine) -> list[dict[str, Any]]:
    """Every stored call with what the filters look at, read plainly."""
    with Session(engine) as db:
        versions = {v.id: (f.name, v.version) for v, f in db.exec(
            select(FlowVersion, Flow).where(FlowVersion.flow_id == Flow.id)).all()}
        escalated = set(db.exec(select(Escalation.call_id)).all())
        return [{"id": c.id, "started_at": as_utc(c.started_at), "caller": c.caller_number,
                 "dialed": c.dialed_number, "status": c.status, "disposition": c.disposition,
                 "escalated": c.id in escalated, "flow": versions.get(c.flow_version_id),
                 "version_id": c.flow_version_id, "path": c.metrics.get("path", [])}
                for c in db.exec(select(Call)).all()]


def _recount(calls: list[dict[str, Any]], f: CallFilters) -> list[dict[str, Any]]:
    out = [c for c in calls
           if (f.since is None or c["started_at"] >= f.since)
           and (f.until is None or c["started_at"] < f.until)
           and (f.dialed is None or c["dialed"].startswith(f.dialed))
           and (f.caller is None or c["caller"].startswith(f.caller))
           and (f.status is None or c["status"] == f.status)
           and (f.disposition is None or c["disposition"] == f.disposition)
           and (f.escalated is None or c["escalated"] == f.escalated)
           and (f.flow is None or (c["flow"] or ("", 0))[0] == f.flow)
           and (f.version is None or (c["flow"] or ("", 0))[1] == f.version)]
    return sorted(out, key=lambda c: (c["started_at"], c["id"]), reverse=True)


def test_calls_list_filters_match_a_recount_of_the_stored_calls(any_engine: Engine,
                                                                 seeded: SeedResult) -> None:
    calls = _all_calls(any_engine)
    assert len(calls) == N
    caller = Counter(c["caller"] for c in calls).most_common(1)[0][0]
    day = seeded.since + timedelta(days=4)
    cases = [
        CallFilters(),
        CallFilters(status="failed"),
        CallFilters(disposition="abandoned"),
        CallFilters(escalated=True),
        CallFilters(escalated=False),
        CallFilters(dialed="+15550001001"),
        CallFilters(caller=caller),
        CallFilters(caller=caller[:8]),
        CallFilters(dialed="+1 (555) 000-1000"),  # punctuation is ignored
        CallFilters(flow="customer_support"),
        CallFilters(flow="customer_support", version=1),
        CallFilters(since=day, until=day + timedelta(days=1)),
        CallFilters(since=day, flow="customer_support", disposition="resolved",
                    escalated=False),
        CallFilters(caller="+19999"),  # nobody
    ]
    with Session(any_engine) as db:
        for f in cases:
            wanted = _recount(calls, CallFilters(**{
                **f.active(), **({"dialed": "+15550001000"} if f.dialed and " " in f.dialed
                                 else {})}))
            got = list_calls(db, f, page=1, per_page=40)
            # Counting stops at COUNT_CAP: past it the list says "1,000+".
            assert (got.total, got.more) == (min(len(wanted), COUNT_CAP),
                                              len(wanted) > COUNT_CAP), f
            assert [r.id for r in got.rows] == [c["id"] for c in wanted[:40]], f
            assert all(r.escalated == (r.id in {c["id"] for c in wanted if c["escalated"]})
                       for r in got.rows)
            if len(wanted) > 80:  # a later page is the next slice, not a repeat
                third = list_calls(db, f, page=3, per_page=40)
                assert [r.id for r in third.rows] == [c["id"] for c in wanted[80:120]], f
    assert any(len(_recount(calls, f)) == 0 for f in cases)
    assert sum(1 for c in calls if c["escalated"]) not in (0, N)


def test_calls_list_count_stops_at_the_cap_and_says_more(any_engine: Engine,
                                                         seeded: SeedResult,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from callcenter.records import calls as calls_module

    monkeypatch.setattr(calls_module, "COUNT_CAP", 700)
    with Session(any_engine) as db:
        capped = list_calls(db, CallFilters(), per_page=50)
        assert (capped.total, capped.more, capped.has_next) == (700, True, True)
        # A page past the cap still counts far enough to know whether there is a next one.
        last = list_calls(db, CallFilters(), page=N // 50, per_page=50)
        assert len(last.rows) == 50 and not last.has_next
        few = list_calls(db, CallFilters(status="failed"))
        assert not few.more and few.total < 700


def _expected_traffic(engine: Engine, calls: list[dict[str, Any]], version_ids: set[int],
                      since: datetime, until: datetime) -> dict[str, Any]:
    chosen = [c for c in calls if c["version_id"] in version_ids
              and since <= c["started_at"] < until]
    ids = {c["id"] for c in chosen}
    nodes: Counter[str] = Counter()
    visits: Counter[str] = Counter()
    edges: Counter[tuple[str, str]] = Counter()
    ended: Counter[tuple[str, str]] = Counter()
    for c in chosen:
        nodes.update(set(c["path"]))
        visits.update(c["path"])
        edges.update(pairwise(c["path"]))
        if c["disposition"]:
            ended[(c["path"][-1], ENDINGS.get(c["disposition"], "other"))] += 1
    no_match: Counter[str] = Counter()
    with Session(engine) as db:
        for e in db.exec(select(CallEvent).where(CallEvent.type == "no_match")).all():
            if e.call_id in ids:
                no_match[e.data["node"]] += 1
    return {"calls": len(chosen), "nodes": nodes, "visits": visits, "edges": edges,
            "ended": ended, "no_match": no_match}


@pytest.mark.parametrize("version", [None, 1])
def test_node_traffic_matches_the_stored_paths_and_events(any_engine: Engine,
                                                          seeded: SeedResult,
                                                          version: int | None) -> None:
    calls = _all_calls(any_engine)
    ids = seeded.version_ids["customer_support"]
    version_ids = set(ids) if version is None else {ids[0]}
    # Across the moment v2 went live (at 4 of 10 days): v1's last day and half a day of v2.
    since = seeded.since + timedelta(days=3)
    until = since + timedelta(days=1.5)
    want = _expected_traffic(any_engine, calls, version_ids, since, until)
    with Session(any_engine) as db:
        got = node_traffic(db, "customer_support", since, until, version=version)
    assert want["calls"] > 50 and got.calls == want["calls"]
    assert {n: t.calls for n, t in got.nodes.items() if t.calls} == dict(want["nodes"])
    assert {n: t.visits for n, t in got.nodes.items() if t.visits} == dict(want["visits"])
    assert dict(got.edges) == dict(want["edges"])
    assert {n: t.no_match for n, t in got.nodes.items() if t.no_match} == dict(want["no_match"])
    assert {(n, k): v for n, t in got.nodes.items() for k, v in t.ended.items()} == dict(
        want["ended"])
    assert sum(want["no_match"].values()) > 0 and want["ended"]


def test_node_traffic_of_an_unknown_flow_or_empty_period_is_zero(any_engine: Engine,
                                                                 seeded: SeedResult) -> None:
    with Session(any_engine) as db:
        assert node_traffic(db, "no_such_flow", seeded.since, seeded.until).calls == 0
        before = node_traffic(db, "customer_support", seeded.since - timedelta(days=5),
                              seeded.since)
        assert before.calls == 0 and not before.edges
        assert node_traffic(db, "customer_support", seeded.since, seeded.until,
                            version=99).calls == 0
