"""Load YAML and remember where every key and value was written (1-based line and column).

PyYAML's `compose` gives the node tree with marks; we construct the plain data from the same
tree and index marks by path (`("nodes", "greet", "text")`, list items by int), so a problem
found in the data can point at the exact line an admin has to edit.

Flows come from admins' uploads and the API, so the text is checked against limits before
anything is built from it: size, nesting depth and how large aliases make it. A few hundred
bytes of nested aliases ("billion laughs") would otherwise expand to gigabytes while the
flow is indexed and validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[Any, ...]

MAX_FLOW_CHARS = 1_000_000
MAX_DEPTH = 40  # mappings and lists inside each other; real flows use fewer than 10
MAX_EXPANDED_NODES = 200_000  # every key, value and item, aliases counted as copies


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass
class LoadedYaml:
    """Plain data plus the position of each key and value by path."""

    data: Any
    keys: dict[Path, Position] = field(default_factory=dict)
    values: dict[Path, Position] = field(default_factory=dict)
    duplicates: list[tuple[Path, Position]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def value_column(self, path: Path, offset: int) -> int:
        """File column of character `offset` (1-based) inside the scalar written at `path`."""
        pos = self.values.get(path)
        if pos is None:
            return self.position(path).column
        line = self.lines[pos.line - 1] if pos.line <= len(self.lines) else ""
        quoted = line[pos.column - 1 : pos.column] in ("'", '"')
        return pos.column + offset - 1 + (1 if quoted else 0)

    def position(self, path: Path, *, prefer_key: bool = False) -> Position:
        """Where `path` was written; falls back to the nearest enclosing item."""
        for end in range(len(path), -1, -1):
            sub = path[:end]
            first, second = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            if sub in first:
                return first[sub]
            if sub in second:
                return second[sub]
        return Position(1, 1)


class YamlSyntaxError(ValueError):
    """The text is not YAML; `position` says where the parser gave up."""

    def __init__(self, message: str, position: Position, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.hint = hint  # None: the usual syntax hint applies


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps impossible dates (`2026-13-01`) as text for validation to report."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _pos(mark: Any) -> Position:
    # yaml.Mark, or the C parser's own Mark type: both have 0-based line and column.
    return Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)


def _check_limits(text: str) -> None:
    """Refuse text that is too big, too deep, or that aliases blow up, before composing it.

    Streams parser events (no tree, no recursion) and keeps, for each anchor, how many
    nodes it stands for; an alias adds that many. Cheap even for hostile input.
    """
    if len(text) > MAX_FLOW_CHARS:
        raise YamlSyntaxError(f"the flow is {len(text):,} characters; the limit is "
                              f"{MAX_FLOW_CHARS:,}", Position(1, 1),
                              "split it into smaller flows")
    sizes: dict[str, int] = {}
    open_: list[tuple[str | None, int]] = []  # (anchor, count when the collection started)
    count = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes:
                if any(anchor == event.anchor for anchor, _ in open_):
                    raise YamlSyntaxError(f"alias *{event.anchor} is inside its own anchor",
                                          _pos(event.start_mark),
                                          "a flow cannot contain itself; remove the alias")
                continue  # an undefined alias: the composer reports it with its position
            count += sizes[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            count += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            count += 1
            open_.append((event.anchor, count))
            if len(open_) > MAX_DEPTH:
                raise YamlSyntaxError(f"the flow nests more than {MAX_DEPTH} levels deep",
                                      _pos(event.start_mark), "flatten it")
        elif isinstance(event, yaml.CollectionEndEvent) and open_:
            anchor, started = open_.pop()
            if anchor:
                sizes[anchor] = count - started + 1
        if count > MAX_EXPANDED_NODES:
            raise YamlSyntaxError(f"aliases (*name) expand the flow past {MAX_EXPANDED_NODES:,} "
                                  "values", _pos(event.start_mark),
                                  "use fewer aliases, or write the repeated parts out")


def load_yaml(text: str) -> LoadedYaml:
    """Parse one YAML document; raises YamlSyntaxError with a position."""
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        # Control characters are refused before parsing starts; point at the character.
        before = text[: exc.position]
        pos = Position(before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
        char = exc.character
        code = char if isinstance(char, int) else ord(str(char)[:1] or "?")
        raise YamlSyntaxError(
            f"YAML cannot contain the control character U+{code:04X}; remove it", pos
        ) from None
    try:
        _check_limits(text)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
        loaded = LoadedYaml(data, lines=text.splitlines())
        if root is not None:
            _index(loader, root, (), loaded, set())
    except YamlSyntaxError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlSyntaxError(f"YAML syntax error: {problem}", _pos(mark)) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"YAML error: {exc}", Position(1, 1)) from None
    except (TypeError, ValueError, RecursionError) as exc:
        # Unhashable keys (`? [a]: b`) and absurd nesting end up here.
        raise YamlSyntaxError(f"YAML cannot be read as a flow: {exc}", Position(1, 1)) from None
    finally:
        loader.dispose()
    return loaded


def _index(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path, out: LoadedYaml, seen: set[int]
) -> None:
    out.values.setdefault(path, _pos(node.start_mark))
    if id(node) in seen or len(path) > 50:  # aliases can make cycles
        return
    seen = seen | {id(node)}
    if isinstance(node, yaml.MappingNode):
        keys_here: set[Any] = set()
        for key_node, value_node in node.value:
            key = _key(loader, key_node)
            if key is None:
                continue
            child = (*path, key)
            if key in keys_here:
                out.duplicates.append((child, _pos(key_node.start_mark)))
            keys_here.add(key)
            out.keys.setdefault(child, _pos(key_node.start_mark))
            _index(loader, value_node, child, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(loader, item, (*path, i), out, seen)


def _key(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # Construct the key as the data has it (YAML 1.1 turns `yes:` into True, `1:` into 1).
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        key = loader.construct_object(node)
    except yaml.YAMLError:
        return node.value
    return key if isinstance(key, str | int | float | bool) or key is None else str(key)
