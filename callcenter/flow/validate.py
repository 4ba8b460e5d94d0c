"""Load a flow from YAML and report every problem at once, each with its line and column.

Structure is checked node by node (so one broken node does not hide the others), then the
meaning of what parsed: targets, reachability, regexes, templates, expressions, hours.
`load_flow` returns a `Flow` or raises `FlowValidationError` listing all problems.
"""

from __future__ import annotations

import difflib
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from callcenter.flow.checks import Checker
from callcenter.flow.nodes import NODE_TYPES, NodeBase
from callcenter.flow.problems import (
    FlowProblem,
    FlowValidationError,
    did_you_mean,
    fields_at,
    translate,
)
from callcenter.flow.schema import Flow
from callcenter.flow.yamlpos import LoadedYaml, Path, Position, YamlSyntaxError, load_yaml


class _FlowShell(Flow):
    """The flow with nodes left raw: nodes are validated one by one."""

    nodes: dict[str, Any] = Field(min_length=1)  # type: ignore[assignment]


def check_flow_text(text: str, file: str = "<flow>") -> tuple[Flow | None, list[FlowProblem]]:
    """Parse and check a flow; returns (flow or None, problems). Never raises for bad input."""
    try:
        loaded = load_yaml(text)
    except YamlSyntaxError as exc:
        pos = exc.position
        hint = exc.hint if exc.hint is not None else (
            "check indentation and that every 'key: value' has a space after the colon")
        return None, [FlowProblem(file, pos.line, pos.column, None, exc.message, hint)]
    return _Validator(file, loaded).run()


def load_flow(text: str, file: str = "<flow>") -> Flow:
    """A validated Flow, or FlowValidationError with every problem."""
    flow, problems = check_flow_text(text, file)
    if problems or flow is None:
        raise FlowValidationError(problems)
    return flow


def load_flow_file(path: str | FsPath) -> Flow:
    """Read and validate a flow file."""
    p = FsPath(path)
    return load_flow(p.read_text(encoding="utf-8"), str(p))


def validate_file(path: str | FsPath) -> list[FlowProblem]:
    """Every problem in a flow file (unreadable files are one problem too)."""
    p = FsPath(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [FlowProblem(str(p), 1, 1, None, f"cannot read file: {exc}", None)]
    return check_flow_text(text, str(p))[1]


class _Validator:
    def __init__(self, file: str, loaded: LoadedYaml) -> None:
        self.file = file
        self.loaded = loaded
        self.problems: list[FlowProblem] = []

    def add(
        self,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        at_key: bool = False,
        column: int | None = None,
    ) -> None:
        pos = self.loaded.position(path, prefer_key=at_key)
        if column is not None:
            pos = Position(pos.line, column)
        node = str(path[1]) if len(path) > 1 and path[0] == "nodes" else None
        if node is None and path and path[0] in ("handlers", "tools", "variables", "start"):
            node = str(path[0])
        self.problems.append(FlowProblem(self.file, pos.line, pos.column, node, message, hint))

    def run(self) -> tuple[Flow | None, list[FlowProblem]]:
        data = self.loaded.data
        if not isinstance(data, dict):
            self.add((), "a flow file must be a mapping with name, start and nodes",
                     "see flows/customer_support.yaml for an example")
            return None, self.problems
        for path, _pos in self.loaded.duplicates:
            self.add(path, f"{path[-1]!r} is written twice; the later one would win",
                     "remove or rename one of them", at_key=True)
        shell = self._shell(data)
        nodes = self._nodes(data.get("nodes"))
        if shell is not None:
            raw_nodes = data.get("nodes") if isinstance(data.get("nodes"), dict) else {}
            Checker(shell, nodes, self.add, self.loaded, raw_nodes).run()
        self.problems.sort(key=lambda p: (p.line, p.column))
        if self.problems or shell is None or len(nodes) != len(shell.nodes):
            return None, self.problems
        flow = Flow.model_validate(data)
        return flow, self.problems

    def _shell(self, data: dict[Any, Any]) -> _FlowShell | None:
        try:
            return _FlowShell.model_validate(data)
        except ValidationError as exc:
            self._report(exc, _FlowShell, ())
            return None

    def _nodes(self, raw: Any) -> dict[str, NodeBase]:
        parsed: dict[str, NodeBase] = {}
        if not isinstance(raw, dict):
            return parsed
        for name, body in raw.items():
            path: Path = ("nodes", name)
            if not isinstance(body, dict):
                self.add(path, f"node {name!r} must be a mapping with a 'type'",
                         "e.g. type: say")
                continue
            kind = body.get("type")
            if kind is None:
                self.add(path, "missing 'type'", f"one of: {', '.join(NODE_TYPES)}", at_key=True)
                continue
            model = NODE_TYPES.get(str(kind))
            if model is None:
                hint = did_you_mean(str(kind), list(NODE_TYPES)) or (
                    f"one of: {', '.join(NODE_TYPES)}")
                self.add((*path, "type"), f"unknown node type {kind!r}", hint)
                continue
            try:
                parsed[str(name)] = model.model_validate(body)
            except ValidationError as exc:
                self._report(exc, model, path)
        return parsed

    def _report(self, exc: ValidationError, model: type[BaseModel], base: Path) -> None:
        errors = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            if base == () and loc[:1] == ("nodes",) and len(loc) > 2:
                continue  # node bodies are reported by _nodes
            # Keys of dicts are reported by pydantic as `[key]` pseudo-steps; drop them.
            errors.append((error, tuple(part for part in loc if part != "[key]")))
        # `nxt: x` is one mistake, not two: the misspelt field explains the missing one.
        explained: set[tuple[Any, ...]] = set()
        for error, loc in errors:
            if error["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(loc[-1]), fields_at(model, loc[:-1]), 1)
                if close:
                    explained.add((*loc[:-1], close[0]))
        for error, loc in errors:
            if error["type"] == "missing" and loc in explained:
                continue
            message, hint, at_key = translate(error, model, loc)
            self.add((*base, *loc), message, hint, at_key=at_key)
