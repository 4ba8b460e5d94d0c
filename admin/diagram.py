"""The flow diagram as server-rendered SVG: nodes in layers from `start`, routes as arrows,
and the traffic of stored calls on both (no diagram script, nothing for the CSP to allow).

The shape comes from callcenter.flow.graph (the same edges validation checks); traffic from
callcenter.records.traffic. A move that stored calls made but the node does not name (a
handler such as "talk to a person", or a failure route) is drawn dashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.flow import graph
from callcenter.flow.problems import FlowProblem
from callcenter.flow.schema import Flow
from callcenter.records.traffic import FlowTraffic, NodeTraffic

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 176, 62, 34, 70, 24
ENDING_LABELS = {"hung_up": "hung up", "escalated": "to a person", "transferred": "transferred",
                 "completed": "completed", "failed": "failed", "other": "other"}


@dataclass(slots=True)
class DiagramNode:
    name: str
    type: str
    x: float
    y: float
    start: bool
    end: bool
    problems: list[str]
    traffic: NodeTraffic
    heat: int  # 0 (no calls) .. 4 (the busiest node)
    endings: list[tuple[str, int]] = field(default_factory=list)

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2


@dataclass(slots=True)
class DiagramEdge:
    source: str
    target: str
    d: str  # the SVG path
    label_x: float
    label_y: float
    calls: int
    width: float
    named: bool  # the node names this route (else a handler or failure route)
    title: str


@dataclass(slots=True)
class Diagram:
    width: float
    height: float
    nodes: list[DiagramNode]
    edges: list[DiagramEdge]
    traffic: FlowTraffic | None
    handlers: list[tuple[str, str]]  # (handler, node it goes to)


def _layers(flow: Flow) -> dict[str, int]:
    """Breadth-first depth from `start`; nodes only handlers reach get layers after those."""
    named = {n: [t for _, t in graph.edges(node) if t in flow.nodes]
             for n, node in flow.nodes.items()}
    depth: dict[str, int] = {}
    for root in [flow.start, *flow.nodes]:
        if root in depth or root not in flow.nodes:
            continue
        base = max(depth.values(), default=-1) + 1 if depth else 0
        queue = [(root, base)]
        depth[root] = base
        while queue:
            name, d = queue.pop(0)
            for t in named[name]:
                if t not in depth:
                    depth[t] = d + 1
                    queue.append((t, d + 1))
    return depth


def _heat(calls: int, busiest: int) -> int:
    if calls <= 0:
        return 0
    return min(4, 1 + int(3 * calls / busiest))


def build_diagram(flow: Flow, traffic: FlowTraffic | None = None,
                  problems: list[FlowProblem] | None = None) -> Diagram:
    """Lay out `flow` and put `traffic` (optional) and `problems` on its nodes."""
    depth = _layers(flow)
    rows: dict[int, list[str]] = {}
    for name in flow.nodes:  # flow order inside a layer, as the author wrote them
        rows.setdefault(depth[name], []).append(name)
    widest = max(len(r) for r in rows.values())
    width = 2 * PAD + widest * NODE_W + (widest - 1) * GAP_X + 80  # room for back-arrows
    by_node: dict[str, list[str]] = {}
    for p in problems or []:
        if p.node:
            by_node.setdefault(p.node, []).append(p.message)
    busiest = traffic.busiest() if traffic else 1
    nodes: dict[str, DiagramNode] = {}
    for d, names in sorted(rows.items()):
        row_w = len(names) * NODE_W + (len(names) - 1) * GAP_X
        x0 = (width - 80 - row_w) / 2
        for i, name in enumerate(names):
            node = flow.nodes[name]
            counts = traffic.node(name) if traffic else NodeTraffic()
            nodes[name] = DiagramNode(
                name=name, type=node.type, x=x0 + i * (NODE_W + GAP_X),
                y=PAD + d * (NODE_H + GAP_Y), start=name == flow.start,
                end=graph.is_end(node), problems=by_node.get(name, []), traffic=counts,
                heat=_heat(counts.calls, busiest),
                endings=[(ENDING_LABELS.get(k, k), v) for k, v in counts.ended.most_common()])
    height = PAD * 2 + (max(rows) + 1) * (NODE_H + GAP_Y) - GAP_Y
    edges = _edges(flow, nodes, traffic)
    handlers = [(h, getattr(flow.handlers, h).goto) for h in type(flow.handlers).model_fields
                if getattr(flow.handlers, h) is not None
                and getattr(getattr(flow.handlers, h), "goto", None)]
    return Diagram(width=width, height=height, nodes=list(nodes.values()), edges=edges,
                   traffic=traffic, handlers=handlers)


def _edges(flow: Flow, nodes: dict[str, DiagramNode],
           traffic: FlowTraffic | None) -> list[DiagramEdge]:
    named = {(n, t) for n, node in flow.nodes.items() for _, t in graph.edges(node)
             if t in nodes}
    pairs = set(named)
    if traffic:
        pairs |= {p for p in traffic.edges if p[0] in nodes and p[1] in nodes}
    busiest = max([traffic.edges[p] for p in pairs] + [1]) if traffic else 1
    out = []
    for source, target in sorted(pairs, key=lambda p: (nodes[p[0]].y, nodes[p[0]].x, p[1])):
        a, b = nodes[source], nodes[target]
        calls = traffic.edges.get((source, target), 0) if traffic else 0
        if b.y > a.y:  # downwards: bottom of a to top of b
            x1, y1, x2, y2 = a.cx, a.y + NODE_H, b.cx, b.y - 4
            mid = (y1 + y2) / 2
            d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
            lx, ly = (x1 + x2) / 2, mid
        else:  # back or sideways (a loop, "anything else?"): round the right-hand side
            x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
            x2, y2 = b.x + NODE_W + 4, b.y + NODE_H / 2 + (0 if source != target else 14)
            bend = max(x1, x2) + 50
            d = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            lx, ly = bend - 12, (y1 + y2) / 2
        is_named = (source, target) in named
        how = "route" if is_named else "handler or failure route"
        out.append(DiagramEdge(
            source=source, target=target, d=d, label_x=lx, label_y=ly, calls=calls,
            width=1.2 + 5.0 * calls / busiest, named=is_named,
            title=f"{source} → {target} ({how}): {calls} call(s)"))
    return out
