"""Node traffic: what stored calls did in a flow, per node and per edge, over a period.

Counts come from each call's node path (`Call.metrics["path"]`, written when the call
ends) and from its timeline events that name a node (no-match, no-input). A call that
revisits a node counts once in `calls` and once per visit in `visits`; an edge is two
consecutive nodes of a path. How a call ended (hung up, escalated, ...) is counted on the
last node of its path, from its disposition.

Used by the flow page's diagram and `callcenter bench admin`; SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlmodel import Session, col, func, select

from callcenter.accounts.times import as_utc
from callcenter.models import Call, CallEvent, Disposition
from callcenter.records.calls import flow_version_ids

# How a call ended, in the words the diagram uses; a disposition not listed is "other".
ENDINGS: dict[str, str] = {
    Disposition.RESOLVED: "completed",
    Disposition.CALLBACK: "completed",
    Disposition.ABANDONED: "hung_up",
    Disposition.ABANDONED_IN_QUEUE: "hung_up",
    Disposition.ESCALATED: "escalated",
    Disposition.RESOLVED_BY_SUPERVISOR: "escalated",
    Disposition.RESOLVED_AFTER_HANDBACK: "escalated",
    Disposition.NO_SUPERVISOR: "escalated",
    Disposition.TRANSFERRED: "transferred",
    Disposition.FAILED: "failed",
}
NODE_EVENTS = ("no_match", "no_input")


@dataclass(slots=True)
class NodeTraffic:
    """One node's counts."""

    calls: int = 0  # calls that reached it at least once
    visits: int = 0
    no_match: int = 0
    no_input: int = 0
    ended: Counter[str] = field(default_factory=Counter)  # ending -> calls that ended here


@dataclass(slots=True)
class FlowTraffic:
    """A flow's traffic over [since, until): `version` None means every version."""

    flow: str
    version: int | None
    since: datetime
    until: datetime
    calls: int = 0
    nodes: dict[str, NodeTraffic] = field(default_factory=dict)
    edges: Counter[tuple[str, str]] = field(default_factory=Counter)

    def node(self, name: str) -> NodeTraffic:
        return self.nodes.get(name) or NodeTraffic()

    def busiest(self) -> int:
        """The largest per-node call count (to scale a drawing), at least 1."""
        return max([n.calls for n in self.nodes.values()] + [1])


def node_traffic(db: Session, flow: str, since: datetime, until: datetime, *,
                 version: int | None = None) -> FlowTraffic:
    """Per-node and per-edge counts of the calls to `flow` (or one version) that started
    in [since, until). An unknown flow or version has no calls, so all counts are zero."""
    out = FlowTraffic(flow=flow, version=version, since=as_utc(since), until=as_utc(until))
    ids = flow_version_ids(db, flow, version)
    if not ids:
        return out
    # The version filter first: the (flow_version_id, started_at) index answers both.
    where = (col(Call.flow_version_id).in_(ids), col(Call.started_at) >= out.since,
             col(Call.started_at) < out.until)
    # Only the path is read from the metrics JSON, not the per-turn latencies beside it.
    paths = db.exec(select(Call.metrics["path"], Call.disposition).where(*where)).all()
    for path, disposition in paths:
        out.calls += 1
        nodes = [str(n) for n in path] if isinstance(path, list) else []
        _count_path(out, nodes, disposition)
    node_col = CallEvent.data["node"].as_string()
    events = db.exec(
        select(node_col, CallEvent.type, func.count())
        .join(Call, col(Call.id) == col(CallEvent.call_id))
        .where(*where, col(CallEvent.type).in_(NODE_EVENTS))
        .group_by(node_col, col(CallEvent.type))
    ).all()
    for node, kind, count in events:
        if node is None:
            continue
        counts = out.nodes.setdefault(str(node), NodeTraffic())
        setattr(counts, str(kind), getattr(counts, str(kind)) + int(count))
    return out


def _count_path(out: FlowTraffic, nodes: list[str], disposition: Any) -> None:
    for name in set(nodes):
        out.nodes.setdefault(name, NodeTraffic()).calls += 1
    for name in nodes:
        out.nodes[name].visits += 1
    for a, b in pairwise(nodes):
        out.edges[(a, b)] += 1
    if nodes and disposition:
        out.nodes[nodes[-1]].ended[ENDINGS.get(str(disposition), "other")] += 1
