"""Small edits to a flow's YAML text that keep the rest of the file (comments, layout) as is.

A suggestion should read as a few added lines in the draft's diff, not a re-dumped file.
Each edit is checked: the edited text must load to exactly the data the edit means, or the
edit falls back to dumping that data (correct, only less pretty).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import yaml

Path = tuple[Any, ...]


class YamlEditError(ValueError):
    """The path to edit does not exist in the text (or is not the kind of node expected)."""


def _node_at(root: yaml.Node, path: Path) -> yaml.Node:
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if str(k.value) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if -len(node.value) <= part < len(node.value) else None
        else:
            found = None
        if found is None:
            raise YamlEditError(f"no {'/'.join(map(str, path))} in the flow")
        node = found
    return node


def _data_at(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def _flow_text(value: Any) -> str:
    """One value in YAML flow style, on one line."""
    return str(yaml.safe_dump([value], default_flow_style=True, width=10**9,
                              sort_keys=False, allow_unicode=True)).strip()[1:-1]


def _block_lines(value: Any) -> list[str]:
    """Mappings in block style, lists of plain values in flow style: how flows are written."""
    if not isinstance(value, dict):
        return [_flow_text(value)]
    out: list[str] = []
    for key, item in value.items():
        if isinstance(item, dict):
            out.append(f"{_flow_text(key)}:")
            out += [f"  {line}" for line in _block_lines(item)]
        elif isinstance(item, list) and any(isinstance(i, dict) for i in item):
            out.append(f"{_flow_text(key)}:")
            for entry in item:
                lines = _block_lines(entry)
                out += [f"  - {lines[0]}", *[f"    {line}" for line in lines[1:]]]
        else:
            out.append(f"{_flow_text(key)}: {_flow_text(item)}")
    return out


def _content_end(text: str, index: int) -> int:
    """End of the last non-blank, non-comment line at or before `index`."""
    head = text[:index].rstrip()
    while True:
        start = head.rfind("\n") + 1
        if head[start:].lstrip().startswith("#") and start > 0:
            head = head[:start].rstrip()
            continue
        return len(head)


def _column(text: str, index: int) -> int:
    return index - (text.rfind("\n", 0, index) + 1)


def _checked(old: str, new: str, expected: Any) -> str:
    try:
        if yaml.safe_load(new) == expected:
            return new
    except yaml.YAMLError:
        pass
    return str(yaml.safe_dump(expected, sort_keys=False, default_flow_style=None, width=100,
                              allow_unicode=True))


def _edit(text: str, path: Path, change: Callable[[Any], None],
          edit: Callable[[yaml.Node, Any], str]) -> str:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.safe_load(text)
    if root is None:
        raise YamlEditError("the flow is empty")
    node = _node_at(root, path)
    expected = copy.deepcopy(data)
    change(_data_at(expected, path))
    return _checked(text, edit(node, _data_at(expected, path)), expected)


def append_items(text: str, path: Path, items: list[Any]) -> str:
    """Add `items` at the end of the list at `path`."""

    def change(seq: Any) -> None:
        if not isinstance(seq, list):
            raise YamlEditError(f"{'/'.join(map(str, path))} is not a list")
        seq.extend(items)

    def edit(node: yaml.Node, new: Any) -> str:
        if not isinstance(node, yaml.SequenceNode):
            raise YamlEditError(f"{'/'.join(map(str, path))} is not a list")
        if node.flow_style or not node.value:
            start, end = node.start_mark.index, node.end_mark.index
            return text[:start] + _flow_text(new) + text[end:]
        last = node.value[-1]
        at = _content_end(text, last.end_mark.index)
        dash = text.rfind("-", text.rfind("\n", 0, last.start_mark.index) + 1,
                          last.start_mark.index)
        indent = " " * _column(text, dash if dash >= 0 else last.start_mark.index)
        out: list[str] = []
        for item in items:
            lines = _block_lines(item) if isinstance(item, dict) else [_flow_text(item)]
            out.append(f"{indent}- {lines[0]}")
            out += [f"{indent}  {line}" for line in lines[1:]]
        return text[:at] + "\n" + "\n".join(out) + text[at:]

    return _edit(text, path, change, edit)


def add_key(text: str, path: Path, key: str, value: Any, *, blank_line: bool = False) -> str:
    """Add `key: value` at the end of the mapping at `path` (the key must be new)."""

    def change(mapping: Any) -> None:
        if not isinstance(mapping, dict) or key in mapping:
            raise YamlEditError(f"cannot add {key!r} to {'/'.join(map(str, path)) or 'top'}")
        mapping[key] = value

    def edit(node: yaml.Node, new: Any) -> str:
        if not isinstance(node, yaml.MappingNode) or not node.value:
            raise YamlEditError(f"{'/'.join(map(str, path))} is not a mapping")
        if node.flow_style:
            start, end = node.start_mark.index, node.end_mark.index
            return text[:start] + _flow_text(new) + text[end:]
        at = _content_end(text, node.value[-1][1].end_mark.index)
        indent = " " * _column(text, node.value[0][0].start_mark.index)
        lines = [f"{indent}{line}" for line in _block_lines({key: value})]
        return text[:at] + ("\n\n" if blank_line else "\n") + "\n".join(lines) + text[at:]

    return _edit(text, path, change, edit)


def has_path(text: str, path: Path) -> bool:
    """Does the YAML have something at `path`?"""
    data = yaml.safe_load(text)
    try:
        _data_at(data, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True
