"""Meaning checks on a structurally valid flow: the problems pydantic cannot see.

Targets that do not exist (with "did you mean"), unreachable nodes, nodes that can never
reach an end, bad regexes, templates naming unknown slots, bad expressions, bad hours,
unknown tools, transfer targets that are not numbers or SIP URIs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from callcenter.flow import expr, graph, hours, patterns, templates, urls
from callcenter.flow.nodes import (
    NAME_PATTERN,
    TEMPLATE_FIELDS,
    AgentNode,
    AskNode,
    BranchNode,
    HoursNode,
    MenuNode,
    NodeBase,
    SetNode,
    TransferNode,
    WebhookNode,
)
from callcenter.flow.problems import did_you_mean
from callcenter.flow.schema import BUILTIN_NAMES, BUILTIN_TOOLS, Flow
from callcenter.flow.yamlpos import LoadedYaml, Path


class AddProblem(Protocol):
    def __call__(
        self,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        at_key: bool = False,
        column: int | None = None,
    ) -> None: ...


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SIP = re.compile(r"^sips?:[^@\s]+@[^@\s]+$|^sips?:[^@\s]+$")


def known_names(
    flow: Flow, nodes: Mapping[str, NodeBase], raw_nodes: Mapping[Any, Any] | None = None
) -> set[str]:
    """Every slot and variable a template or expression may use in this flow."""
    names = set(BUILTIN_NAMES) | set(flow.variables)
    for name, raw in (raw_nodes or {}).items():
        # Nodes that failed to parse still declare names; do not blame their users too.
        if str(name) not in nodes and isinstance(raw, dict):
            if isinstance(raw.get("slot"), str):
                names.add(raw["slot"])
            for key in ("values", "compute", "save"):
                if isinstance(raw.get(key), dict):
                    names |= {str(k) for k in raw[key]}
    for node in nodes.values():
        if isinstance(node, AskNode | MenuNode) and node.slot:
            names.add(node.slot)
        elif isinstance(node, SetNode):
            names |= set(node.values) | set(node.compute)
        elif isinstance(node, WebhookNode):
            names |= set(node.save)
    return names


class Checker:
    """Runs every meaning check, reporting through `add(path, message, hint)`."""

    def __init__(
        self,
        flow: Flow,
        nodes: Mapping[str, NodeBase],
        add: AddProblem,
        loaded: LoadedYaml,
        raw_nodes: Mapping[Any, Any] | None = None,
    ) -> None:
        self.flow = flow
        self.nodes = nodes
        self.add = add
        self.loaded = loaded
        self.node_names = [str(n) for n in flow.nodes]
        self.names = known_names(flow, nodes, raw_nodes)
        self.caller_slots = {n.slot for n in nodes.values()
                             if isinstance(n, AskNode | MenuNode) and n.slot}
        # Nodes a misspelt target probably meant: not also reported as unreachable.
        self.meant: set[str] = set()

    def run(self) -> None:
        self.target(("start",), self.flow.start)
        for hname, handler in self._handlers():
            self.target(("handlers", hname, "goto"), handler.goto)
            if handler.say:
                self.template(("handlers", hname, "say"), handler.say)
        for name in self.flow.nodes:
            if not re.match(NAME_PATTERN, str(name)):
                self.add(("nodes", name), f"node name {name!r} must use only letters, digits "
                         "and underscores", "e.g. ask_order_number", at_key=True)
        for name, node in self.nodes.items():
            base: Path = ("nodes", name)
            for path, target in graph.edges(node):
                self.target((*base, *path), target)
            self.node_templates(base, node)
            self.node_specific(base, node)
        self.shape()

    def _handlers(self) -> Iterator[tuple[str, Any]]:
        for hname in type(self.flow.handlers).model_fields:
            handler = getattr(self.flow.handlers, hname)
            if handler is not None:
                yield hname, handler

    def target(self, path: Path, target: str) -> None:
        if target in self.flow.nodes:
            return
        close = difflib.get_close_matches(target, self.node_names, n=1, cutoff=0.6)
        self.meant |= set(close)
        hint = did_you_mean(target, self.node_names) or (
            f"nodes are: {', '.join(self.node_names[:12])}")
        self.add(path, f"goes to {target!r}, but there is no node with that name", hint)

    # ------------------------------------------------------------ templates

    def template(self, path: Path, text: str, extra: frozenset[str] = frozenset()) -> None:
        if (offset := templates.unclosed(text)) is not None:
            self.add(path, f"'{{{{' at character {offset + 1} is never closed", "add '}}'")
        if (offset := templates.unclosed_optional(text)) is not None:
            self.add(path, f"optional part '[[' at character {offset + 1} is never closed",
                     "add ']]' where the optional part ends")
        for ph in templates.placeholders(text):
            if ph.name is None:
                self.add(path, f"{ph.raw} is not a slot name",
                         "write {{slot_name}}; put logic in a branch node")
            elif ph.name not in self.names and ph.name not in extra:
                self.add(path, f"template uses unknown slot {ph.name!r}",
                         did_you_mean(ph.name, sorted(self.names))
                         or "set it with an ask, set or webhook node first")

    def node_templates(self, base: Path, node: NodeBase) -> None:
        for field in TEMPLATE_FIELDS & set(type(node).model_fields):
            value = getattr(node, field)
            for sub, text in _strings(value, ()):
                self.template((*base, field, *sub), text)
        if isinstance(node, AgentNode):
            for i, intent in enumerate(node.intents):
                if intent.say:
                    self.template((*base, "intents", i, "say"), intent.say)
            for i, known in enumerate(node.knowledge):
                self.template((*base, "knowledge", i, "a"), known.a)

    # ------------------------------------------------------------ per type

    def node_specific(self, base: Path, node: NodeBase) -> None:
        checks: dict[type[NodeBase], Callable[[Path, Any], None]] = {
            AskNode: self.ask, MenuNode: self.menu, AgentNode: self.agent,
            BranchNode: self.branch, SetNode: self.set_node, WebhookNode: self.webhook,
            HoursNode: self.hours, TransferNode: self.transfer,
        }
        check = checks.get(type(node))
        if check is not None:
            check(base, node)

    def ask(self, base: Path, node: AskNode) -> None:
        if node.pattern is not None and (bad := patterns.problem(node.pattern)) is not None:
            path = (*base, "pattern")
            column = None if bad.column is None else self.loaded.value_column(path, bad.column)
            self.add(path, bad.message, bad.hint, column=column)
        if node.expect == "choice" and not node.choices:
            self.add((*base, "expect"), "expect: choice needs a 'choices' list",
                     "e.g. choices: [morning, afternoon]", at_key=True)
        keyed = all(not isinstance(c, str) and c.key for c in node.choices)
        if node.input == ["dtmf"] and (node.expect == "text" or
                                       (node.expect == "choice" and not keyed)):
            self.add((*base, "input"), f"expect: {node.expect} cannot be answered on a keypad",
                     "add speech to input, or give every choice a key")
        if node.min_length and node.max_length and node.min_length > node.max_length:
            self.add((*base, "min_length"), "min_length is larger than max_length")
        if node.readback is not None:
            # `{{value}}` is the answer being confirmed; without it the caller is asked to
            # confirm something they never hear.
            self.template((*base, "readback"), node.readback, frozenset({"value"}))
            if not any(ph.name == "value" for ph in templates.placeholders(node.readback)):
                self.add((*base, "readback"), "readback never says the answer it confirms",
                         "put {{value}} in it, e.g. 'I heard {{value}}. Is that right?'")

    def menu(self, base: Path, node: MenuNode) -> None:
        keys: dict[str, int] = {}
        for i, option in enumerate(node.options):
            if option.key is None and not option.phrases:
                self.add((*base, "options", i), "option has neither a key nor phrases",
                         "add key: '1' or phrases: [...]")
            if option.key is not None:
                if option.key in keys:
                    self.add((*base, "options", i, "key"),
                             f"key {option.key!r} is already used by option {keys[option.key] + 1}")
                keys[option.key] = i

    def agent(self, base: Path, node: AgentNode) -> None:
        for i, tool in enumerate(node.tools):
            if tool not in self.flow.tools and tool not in BUILTIN_TOOLS:
                known = sorted(set(self.flow.tools) | BUILTIN_TOOLS)
                self.add((*base, "tools", i), f"unknown tool {tool!r}",
                         did_you_mean(tool, known) or f"define it under 'tools:' ({known})")
        if "escalate" in node.tools and not (node.on_escalate or self.flow.handlers.human_request):
            self.add((*base, "tools"), "the 'escalate' tool needs somewhere to go",
                     "add on_escalate: <node> or a handlers.human_request")
        if not node.use_llm and not node.intents and not node.knowledge:
            self.add((*base, "use_llm"), "use_llm: false needs intents or knowledge to answer with")
        seen: dict[str, int] = {}
        for i, item in enumerate(node.knowledge):
            key = " ".join(item.q.lower().split())
            if key in seen:
                self.add((*base, "knowledge", i, "q"),
                         f"the same question is already answered by knowledge item {seen[key] + 1}",
                         "merge the two answers or remove one")
            seen.setdefault(key, i)

    def branch(self, base: Path, node: BranchNode) -> None:
        for i, case in enumerate(node.cases):
            self.expression((*base, "cases", i, "when"), case.when)

    def set_node(self, base: Path, node: SetNode) -> None:
        for key in [*node.values, *node.compute]:
            if not re.match(NAME_PATTERN, key):
                self.add((*base, "values" if key in node.values else "compute", key),
                         f"variable name {key!r} must use letters, digits and underscores",
                         at_key=True)
        for key, source in node.compute.items():
            self.expression((*base, "compute", key), source)

    def webhook(self, base: Path, node: WebhookNode) -> None:
        if not re.match(r"^(https?://|\{\{)", node.url):
            self.add((*base, "url"), "url must start with http:// or https://")
        for ph, part in urls.parts(node.url):
            if part in ("base", "host") and ph.name in self.caller_slots:
                self.add((*base, "url"), f"{ph.raw} is what a caller said, so it would choose "
                         "the server this webhook calls",
                         "put caller answers in the path or query: .../orders/{{order_number}}")
        for key, source in node.save.items():
            if not re.match(NAME_PATTERN, key):
                self.add((*base, "save", key), f"variable name {key!r} must use letters, "
                         "digits and underscores", at_key=True)
            if not re.match(r"^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$", str(source)):
                self.add((*base, "save", key), f"{source!r} is not a path into the reply",
                         "write fields joined by dots, e.g. order.status or items.0.name")

    def hours(self, base: Path, node: HoursNode) -> None:
        try:
            hours.parse_zone(node.timezone)
        except hours.HoursError as exc:
            self.add((*base, "timezone"), str(exc))
        for key, value in node.schedule.items():
            try:
                hours.parse_days(key)
            except hours.HoursError as exc:
                self.add((*base, "schedule", key), str(exc), at_key=True)
            try:
                hours.parse_ranges(value)
            except hours.HoursError as exc:
                self.add((*base, "schedule", key), str(exc))
        for i, day in enumerate(node.holidays):
            try:
                hours.parse_holiday(day)
            except hours.HoursError as exc:
                self.add((*base, "holidays", i), str(exc))

    def transfer(self, base: Path, node: TransferNode) -> None:
        if not (_E164.match(node.to) or _SIP.match(node.to) or node.to.startswith("{{")):
            hint = "write +15551234567 or sip:desk@example.com"
            if node.to.isdigit():
                hint = "quote the number so YAML keeps the '+': to: '+15551234567'"
            self.add((*base, "to"), f"{node.to!r} is not an E.164 number or SIP URI", hint)

    def expression(self, path: Path, source: str) -> None:
        try:
            tree = expr.parse(source)
        except expr.ExprError as exc:
            self.add(path, f"bad condition {source!r}: {exc.message}",
                     "e.g. order_status == 'shipped' and len(order_number) == 6",
                     column=self.loaded.value_column(path, exc.column))
            return
        for pattern, col in _literal_patterns(tree):
            if (bad := patterns.problem(pattern)) is not None:
                self.add(path, f"matches(): {bad.message}", bad.hint,
                         column=self.loaded.value_column(path, col))
        for name, col in expr.names(tree):
            if name not in self.names:
                self.add(path, f"condition uses unknown name {name!r}",
                         did_you_mean(name, sorted(self.names)) or "names must be slots or "
                         "variables set earlier in the flow",
                         column=self.loaded.value_column(path, col))

    # ------------------------------------------------------------ whole graph

    def shape(self) -> None:
        failure = [h.goto for h in (self.flow.handlers.no_match, self.flow.handlers.silence)
                   if h is not None]
        graph_: dict[str, set[str]] = {}
        ends: set[str] = set()
        for name in self.flow.nodes:
            node = self.nodes.get(str(name))
            if node is None:
                # A node that failed to parse: assume any node name it mentions is a target
                # and that it may end, so its own error is not followed by spurious ones.
                graph_[str(name)] = {s for _, s in _strings(self.flow.nodes[name], ())
                                     if s in self.flow.nodes}
                ends.add(str(name))
                continue
            graph_[str(name)] = graph.successors(node, failure)
            if graph.is_end(node):
                ends.add(str(name))
        # A target that does not exist is already reported; do not also call its node stuck.
        ends |= {t for targets in graph_.values() for t in targets if t not in graph_}
        # Nodes a misspelt target meant count as reached, so their successors are not blamed.
        roots = [self.flow.start, *self.meant] + [h.goto for _, h in self._handlers()]
        seen = graph.reachable(roots, graph_)
        for name in self.flow.nodes:
            if str(name) not in seen:
                self.add(("nodes", name), f"node {name!r} can never be reached",
                         "point a next/goto at it, or delete it", at_key=True)
        finishing = graph.can_end(graph_, ends)
        for name in self.flow.nodes:
            if str(name) in seen and str(name) not in finishing:
                self.add(("nodes", name), f"from node {name!r} the call can never end",
                         "every path loops; lead one to a hangup, transfer or escalate node",
                         at_key=True)


def _literal_patterns(tree: expr.Expr) -> Iterator[tuple[str, int]]:
    """Patterns written as text in `matches(x, '...')`, with their columns."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, expr.Call) and node.func == "matches" and len(node.args) == 2:
            arg = node.args[1]
            if isinstance(arg, expr.Lit) and isinstance(arg.value, str):
                yield arg.value, arg.col
        stack.extend(expr.children(node))


def _strings(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))
