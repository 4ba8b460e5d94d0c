"""Stored calls for the admin benchmark and its tests: many, fast, and shaped like real ones.

Each call walks one of the published example flows along its real transitions (so node
traffic lands on real nodes and edges), with the rows a finished, processed call has:
the call (node path and per-turn latencies in its metrics), utterances, timeline events
(nodes entered, no-match and no-input where the caller was asked something, slots, the
end), an escalation where a person was involved, and the stored redacted transcript.

PostgreSQL gets the rows by COPY; other databases (SQLite) by executemany.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, col, select

from callcenter.db import session_scope
from callcenter.dev.seed import DEV_NUMBERS, seed_flows
from callcenter.flow import graph
from callcenter.flow.nodes import (
    AgentNode,
    AskNode,
    EscalateNode,
    HangupNode,
    MenuNode,
    TransferNode,
)
from callcenter.flow.schema import Flow as FlowDef
from callcenter.flow.validate import load_flow
from callcenter.flowstore import FlowStore
from callcenter.models import Disposition, Flow, FlowVersion

CHUNK = 2_000  # calls generated and written per round (bounds memory)
# The share of calls each example flow gets (by its dialed number).
FLOW_WEIGHTS = {"customer_support": 0.6, "appointment_booking": 0.3, "after_hours": 0.1}
CALLER_REPLIES = ("yes", "no", "order status", "billing", "I want to talk to someone",
                  "my order number is 4 4 1 2 7", "tomorrow at ten", "what?", "that's right")
# Hours of the day weighted like a business line: busy 9-17, quiet at night.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 6, 10, 14, 15, 14, 12, 13, 14, 13, 11, 8, 5, 4, 3, 2, 1, 1]


@dataclass(slots=True)
class SeedResult:
    calls: int
    since: datetime
    until: datetime
    version_ids: dict[str, list[int]]  # flow -> its version ids (oldest first)
    call_ids: list[str] = field(default_factory=list)  # a sample, for call-page lookups
    dialed: list[str] = field(default_factory=list)
    callers: list[str] = field(default_factory=list)  # repeat callers


@dataclass(slots=True)
class _Flow:
    name: str
    flow: FlowDef
    graph: dict[str, list[str]]  # every successor (graph.END included)
    explicit: dict[str, list[str]]  # the targets the node names itself
    versions: list[int]  # version ids; calls split between them over time
    number: str


def prepare_flows(engine: Engine) -> dict[str, _Flow]:
    """Publish the example flows (and a second version of the busiest), map their numbers."""
    seed_flows(engine)
    out: dict[str, _Flow] = {}
    with session_scope(engine) as s:
        store = FlowStore(s)
        numbers = {flow: number for number, flow in DEV_NUMBERS.items()}
        for name in FLOW_WEIGHTS:
            published = store.published_version(name)
            assert published is not None, f"example flow {name} was not published"
            if name == "customer_support" and len(store.versions(name)) == 1:
                # Two versions, so the version filter and per-version traffic mean something.
                store.publish_text(published.yaml_text + "\n# v2: same nodes, new note\n",
                                   author="bench", note="bench second version")
            ids = [int(v.id) for v in store.versions(name) if v.id is not None]
            parsed = load_flow(published.yaml_text, name)
            failure = [h.goto for h in (parsed.handlers.no_match, parsed.handlers.silence)
                       if h is not None]
            shape = {n: sorted(graph.successors(node, failure))
                     for n, node in parsed.nodes.items()}
            named = {n: sorted({t for _, t in graph.edges(node)})
                     for n, node in parsed.nodes.items()}
            out[name] = _Flow(name, parsed, shape, named, ids, numbers[name])
    return out


def _ending(node: Any, rng: random.Random) -> str:
    if isinstance(node, EscalateNode):
        return rng.choices(
            [Disposition.RESOLVED_BY_SUPERVISOR, Disposition.RESOLVED_AFTER_HANDBACK,
             Disposition.ABANDONED_IN_QUEUE, Disposition.NO_SUPERVISOR],
            [6, 2, 1, 1])[0]
    if isinstance(node, TransferNode):
        return Disposition.TRANSFERRED
    if isinstance(node, HangupNode):
        return Disposition.RESOLVED if rng.random() < 0.93 else Disposition.CALLBACK
    return Disposition.FAILED if rng.random() < 0.3 else Disposition.ABANDONED


def _walk(f: _Flow, rng: random.Random) -> tuple[list[str], str]:
    """A node path along real transitions and the disposition it ends with."""
    path = [f.flow.start]
    while len(path) < 14:
        node = f.flow.nodes[path[-1]]
        if graph.is_end(node):
            return path, _ending(node, rng)
        if rng.random() < 0.02:  # the caller hangs up mid-flow
            return path, Disposition.ABANDONED
        nxt = [t for t in f.graph[path[-1]] if t != graph.END]
        if not nxt or (graph.END in f.graph[path[-1]] and rng.random() < 0.05):
            return path, _ending(None, rng)
        # Mostly the routes the node names; now and then its failure route (retries ran out).
        named = f.explicit[path[-1]]
        choices = named if named and rng.random() < 0.95 else nxt
        # Most callers are helped by the AI: routes to a person are taken less often.
        weights = [1 if graph.is_end(f.flow.nodes[t]) and not isinstance(
            f.flow.nodes[t], HangupNode) else 5 for t in choices]
        path.append(rng.choices(choices, weights)[0])
    return path, Disposition.ABANDONED


def _line(node: Any) -> str:
    for name in ("prompt", "text", "greeting"):
        value = getattr(node, name, None)
        if isinstance(value, str) and value:
            return value[:300]
    return "One moment please."


def _started_at(rng: random.Random, since: datetime, days: int) -> datetime:
    day = rng.randrange(days)
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    return since + timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3600))


def _call(f: _Flow, rng: random.Random, started: datetime, caller: str,
          rows: dict[str, list[dict[str, Any]]], switch: datetime) -> str:
    """Append one call's rows to `rows` (calls from `switch` on get the flow's newest
    version, earlier ones its first); returns its id."""
    call_id = f"{rng.getrandbits(128):032x}"
    path, disposition = _walk(f, rng)
    events: list[dict[str, Any]] = []
    utts: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    t = 0

    def event(kind: str, **data: Any) -> None:
        events.append({"call_id": call_id, "seq": len(events) + 1, "type": kind,
                       "at": started + timedelta(milliseconds=t), "offset_ms": t, "data": data})

    def say(role: str, text: str, *, interrupted: bool = False) -> None:
        nonlocal t
        length = 600 + 55 * len(text)
        heard = text[: len(text) // 2] if interrupted else None
        utts.append({"call_id": call_id, "seq": len(utts) + 1, "speaker_role": role,
                     "speaker_identity": role, "text": text, "start_ms": t,
                     "end_ms": t + length, "interrupted": interrupted, "heard_text": heard})
        lines.append({"kind": "speech", "speaker": role, "start_ms": t, "end_ms": t + length,
                      "text": heard or text, "interrupted": interrupted,
                      **({"intended_text": text} if interrupted else {})})
        t += length + rng.randint(200, 900)

    event("call_started", caller=caller)
    for name in path:
        node = f.flow.nodes[name]
        event("node_entered", node=name, type=node.type)
        say("agent", _line(node), interrupted=rng.random() < 0.08)
        if isinstance(node, AskNode | MenuNode | AgentNode):
            for _ in range(rng.choices([0, 1, 2], [80, 15, 5])[0]):
                kind = "no_match" if rng.random() < 0.75 else "no_input"
                event(kind, node=name, attempt=1)
                if kind == "no_match":
                    say("caller", rng.choice(CALLER_REPLIES))
            say("caller", rng.choice(CALLER_REPLIES))
            turns.append({"e2e_ms": rng.lognormvariate(6.7, 0.25),
                          "stt_final_latency_ms": rng.uniform(120, 400),
                          "llm_ttft_ms": rng.uniform(200, 700) if isinstance(node, AgentNode)
                          else None,
                          "tts_ttfb_ms": rng.uniform(40, 160), "interrupted": False})
            slot = getattr(node, "slot", None)
            if slot:
                event("slot_set", node=name, slot=slot, value=rng.choice(CALLER_REPLIES))
    event("call_ended", outcome=str(disposition), reason="bench", node=path[-1])
    ended = started + timedelta(milliseconds=t + rng.randint(500, 4000))
    escalated = disposition in {Disposition.RESOLVED_BY_SUPERVISOR,
                                Disposition.RESOLVED_AFTER_HANDBACK,
                                Disposition.ABANDONED_IN_QUEUE, Disposition.NO_SUPERVISOR}
    processed = rng.random() < 0.95
    e2e = sorted(x["e2e_ms"] for x in turns)
    metrics: dict[str, Any] = {"turns": turns, "path": path,
                               "interruptions": sum(1 for u in utts if u["interrupted"])}
    if e2e:
        metrics["e2e_ms_p50"] = e2e[len(e2e) // 2]
        metrics["e2e_ms_p95"] = e2e[min(len(e2e) - 1, int(0.95 * len(e2e)))]
    version_id = f.versions[0] if started < switch else f.versions[-1]
    rows["calls"].append({
        "id": call_id, "room_name": f"call-{call_id}", "caller_number": caller,
        "dialed_number": f.number, "flow_version_id": version_id, "worker_id": "bench",
        "status": "failed" if disposition == Disposition.FAILED else "ended",
        "started_at": started, "answered_at": started + timedelta(milliseconds=300),
        "ended_at": ended, "end_reason": "caller hung up" if "abandon" in disposition
        else "flow ended", "disposition": str(disposition) if processed else None,
        "summary": f"Caller went through {len(path)} steps of {f.name}." if processed else None,
        "sentiment": round(rng.uniform(-0.8, 0.9), 2) if processed else None,
        "metrics": metrics, "usage": {"stt_seconds": round(t / 1000, 1)},
        "processed_at": ended + timedelta(seconds=8) if processed else None,
    })
    rows["utterances"] += utts
    rows["call_events"] += events
    if escalated:
        asked = started + timedelta(milliseconds=max(t - 20_000, 0))
        answered = (None if disposition in {Disposition.ABANDONED_IN_QUEUE,
                                            Disposition.NO_SUPERVISOR}
                    else asked + timedelta(seconds=rng.uniform(5, 120)))
        rows["escalations"].append({
            "call_id": call_id, "queue": "support", "priority": 0, "reason": "asked for a person",
            "summary": "", "status": "ended" if answered else "abandoned",
            "supervisor_id": None, "supervisor": "bench supervisor" if answered else None,
            "requested_at": asked, "answered_at": answered, "returned_at": None,
            "ended_at": ended})
    if processed:
        rows["call_transcripts"].append({
            "call_id": call_id, "text": None, "data": None,
            "redacted_text": "\n".join(f"{x['speaker']}: {x['text']}" for x in lines),
            "redacted_data": lines, "created_at": ended + timedelta(seconds=8)})
    return call_id


TABLES = ("calls", "utterances", "call_events", "escalations", "call_transcripts")


def _write(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    tables = {name: SQLModel.metadata.tables[name] for name in TABLES}
    if engine.dialect.name == "postgresql":
        _copy(engine, tables, rows)
        return
    with engine.begin() as conn:
        for name in TABLES:
            if rows[name]:
                conn.execute(tables[name].insert(), rows[name])


def _copy(engine: Engine, tables: dict[str, sa.Table],
          rows: dict[str, list[dict[str, Any]]]) -> None:
    """COPY each table's rows (JSON columns as text; `id` serial columns left to default)."""
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        assert pg is not None
        with pg.cursor() as cur:
            for name in TABLES:
                if not rows[name]:
                    continue
                cols = [c for c in rows[name][0]]
                json_cols = {c.name for c in tables[name].columns
                             if isinstance(c.type, sa.JSON)}
                quoted = ", ".join(f'"{c}"' for c in cols)
                with cur.copy(f'COPY "{name}" ({quoted}) FROM STDIN') as copy:
                    for r in rows[name]:
                        copy.write_row([json.dumps(r[c]) if c in json_cols and r[c] is not None
                                        else r[c] for c in cols])
        pg.commit()
    finally:
        raw.close()


def seed_calls(engine: Engine, n: int, *, days: int = 30, seed: int = 13,
               now: datetime | None = None,
               progress: Callable[[str], None] | None = None) -> SeedResult:
    """Store `n` finished calls spread over the `days` before `now` (schema must exist)."""
    rng = random.Random(seed)
    flows = prepare_flows(engine)
    until = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(days=days)
    callers = [f"+1555{rng.randrange(10**7):07d}" for _ in range(max(n // 5, 10))]
    names, weights = list(FLOW_WEIGHTS), list(FLOW_WEIGHTS.values())
    out = SeedResult(calls=n, since=since, until=until,
                     version_ids={k: f.versions for k, f in flows.items()},
                     dialed=[f.number for f in flows.values()], callers=callers[:50])
    # Calls are stored as they end, so rows of one day sit together on disk as in production.
    switch = since + (until - since) * 0.4  # the second version went live here
    starts = iter(sorted(_started_at(rng, since, days) for _ in range(n)))
    done = 0
    for size in _chunks(n):
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        for _ in range(size):
            f = flows[rng.choices(names, weights)[0]]
            call_id = _call(f, rng, next(starts), rng.choice(callers), rows, switch)
            if rng.random() < 2_000 / n:  # a sample from the whole period
                out.call_ids.append(call_id)
        _write(engine, rows)
        done += size
        if progress is not None and (done % 20_000 < size or done == n):
            progress(f"stored {done:,} of {n:,} calls")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # What autovacuum does on a live database soon after a load: statistics for the
            # planner and the visibility map that lets counts use index-only scans.
            conn.execute(sa.text("VACUUM ANALYZE"))
    return out


def _chunks(n: int) -> Iterator[int]:
    while n > 0:
        yield min(CHUNK, n)
        n -= CHUNK


def flow_version_number(engine: Engine, version_id: int) -> tuple[str, int]:
    """(flow name, version number) of a version id."""
    with session_scope(engine) as s:
        found = s.exec(select(Flow.name, FlowVersion.version)
                       .join(FlowVersion, col(FlowVersion.flow_id) == col(Flow.id))
                       .where(col(FlowVersion.id) == version_id)).one()
        return str(found[0]), int(found[1])


def seeded(engine: Engine) -> SeedResult:
    """What `seed_calls` returned, read back from a database it seeded (to measure again)."""
    with engine.connect() as conn:
        n, first, last = conn.execute(sa.text(
            "SELECT count(*), min(started_at), max(started_at) FROM calls")).one()
        if not n:
            raise ValueError("this database has no stored calls: run the benchmark without "
                             "--database-url to seed a new one")
        ids = [r[0] for r in conn.execute(sa.text(
            "SELECT id FROM calls ORDER BY id LIMIT 2000"))]
        callers = [r[0] for r in conn.execute(sa.text(
            "SELECT caller_number FROM calls GROUP BY 1 ORDER BY count(*) DESC LIMIT 50"))]
        dialed = [r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT dialed_number FROM calls"))]
        versions: dict[str, list[int]] = {}
        for name, vid in conn.execute(sa.text(
                "SELECT f.name, v.id FROM flow_versions v JOIN flows f ON f.id = v.flow_id "
                "ORDER BY v.id")):
            versions.setdefault(str(name), []).append(int(vid))
    since = first.replace(minute=0, second=0, microsecond=0)
    until = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return SeedResult(calls=int(n), since=since, until=until, version_ids=versions,
                      call_ids=ids, dialed=dialed, callers=callers)
