"""The shape of a flow as a graph: which node can lead to which, and which nodes end a call.

Used by validation (unreachable nodes, nodes that can never reach an end, unknown targets)
and by the admin UI to draw the flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from callcenter.flow.nodes import (
    AgentNode,
    AskNode,
    BranchNode,
    EscalateNode,
    HangupNode,
    HoursNode,
    MenuNode,
    NodeBase,
    SayNode,
    SetNode,
    TransferNode,
    WebhookNode,
)

# A pseudo-node: "the runner ends the call here by default" (e.g. retries run out and no
# failure route or handler exists, so the caller hears goodbye and the call ends).
END = "<end>"

Edge = tuple[tuple[str | int, ...], str]  # (path of the field inside the node, target)


def edges(node: NodeBase) -> list[Edge]:
    """The explicit targets a node names, with the field path each is written at."""
    out: list[Edge] = []
    if isinstance(node, SayNode | SetNode):
        out.append((("next",), node.next))
    elif isinstance(node, AskNode | WebhookNode):
        out.append((("next",), node.next))
        if node.on_failure:
            out.append((("on_failure",), node.on_failure))
    elif isinstance(node, MenuNode):
        out += [(("options", i, "goto"), o.goto) for i, o in enumerate(node.options)]
        if node.on_failure:
            out.append((("on_failure",), node.on_failure))
    elif isinstance(node, AgentNode):
        out += [(("intents", i, "goto"), it.goto) for i, it in enumerate(node.intents) if it.goto]
        for field in ("on_escalate", "on_done", "on_max_turns"):
            if target := getattr(node, field):
                out.append(((field,), target))
    elif isinstance(node, BranchNode):
        out += [(("cases", i, "goto"), c.goto) for i, c in enumerate(node.cases)]
        out.append((("otherwise",), node.otherwise))
    elif isinstance(node, HoursNode):
        out += [(("open",), node.open), (("closed",), node.closed)]
    elif isinstance(node, EscalateNode):
        for field in ("on_timeout", "next"):
            if target := getattr(node, field):
                out.append(((field,), target))
    return out


def is_end(node: NodeBase) -> bool:
    """Nodes after which the AI's part of the call is over."""
    return isinstance(node, HangupNode | TransferNode | EscalateNode)


def successors(node: NodeBase, failure_targets: Iterable[str]) -> set[str]:
    """Every node (or END) a node can lead to, including its implicit failure route."""
    out = {target for _, target in edges(node)}
    waits = isinstance(node, AskNode | MenuNode | AgentNode | WebhookNode)
    if waits and not getattr(node, "on_failure", None):
        targets = list(failure_targets)
        out |= set(targets) if targets else {END}
    if isinstance(node, AgentNode) and not node.on_max_turns:
        out.add(END)
    return out


def reachable(start: Iterable[str], graph: Mapping[str, set[str]]) -> set[str]:
    """Nodes reachable from any of `start` (targets outside `graph` are ignored)."""
    seen: set[str] = set()
    stack = [s for s in start if s in graph]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack += [t for t in graph[name] if t in graph and t not in seen]
    return seen


def can_end(graph: Mapping[str, set[str]], ends: set[str]) -> set[str]:
    """Nodes from which some path reaches an end node (or END)."""
    reverse: dict[str, set[str]] = {}
    for name, targets in graph.items():
        for t in targets:
            reverse.setdefault(t, set()).add(name)
    good = set(ends) | {END}
    stack = list(good)
    while stack:
        name = stack.pop()
        for prev in reverse.get(name, ()):
            if prev not in good:
                good.add(prev)
                stack.append(prev)
    return good & set(graph)
