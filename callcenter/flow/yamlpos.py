"""Load YAML and remember where every key and value was written (1-based line and column).

PyYAML's `compose` gives the node tree with marks; we construct the plain data from the same
tree and index marks by path (`("nodes", "greet", "text")`, list items by int), so a problem
found in the data can point at the exact line an admin has to edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[Any, ...]


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

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps impossible dates (`2026-13-01`) as text for validation to report."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _pos(mark: yaml.Mark | None) -> Position:
    return Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)


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
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
        loaded = LoadedYaml(data, lines=text.splitlines())
        if root is not None:
            _index(loader, root, (), loaded, set())
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
