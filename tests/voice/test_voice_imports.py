"""The voice package's imports: no cycle among its files, and nothing from the edges.

Read from the source with `ast` (every import, also those under TYPE_CHECKING or inside
functions), so a cycle hidden behind a lazy import is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

VOICE = Path(__file__).resolve().parents[2] / "callcenter" / "voice"
PACKAGE = "callcenter.voice"
# voice/ talks to `rooms.Room` and the `speech` interfaces, never to what is behind them.
FORBIDDEN = (
    "livekit", "redis", "httpx", "fastapi", "starlette", "sqlalchemy", "sqlmodel", "celery",
    "callcenter.rooms.livekit", "callcenter.dispatch", "callcenter.callsession",
    "callcenter.flow", "callcenter.testing", "admin",
)


def _module(path: Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute (`from x import y` also counts `x.y`)."""
    me = _module(path)
    package = me if path.stem == "__init__" else me.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in sorted(VOICE.glob("*.py"))}
    return {m: {i for i in _imports(p) if i in files and i != m} for m, p in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return [*path[path.index(n):], n]
            if n not in state and (found := visit(n)) is not None:
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_voice_files_import_each_other_without_a_cycle() -> None:
    graph = _graph()
    assert {"callcenter.voice.session", "callcenter.voice.listener"} <= graph.keys()
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_listener_and_barge_in_do_not_know_the_session() -> None:
    graph = _graph()
    for m in ("callcenter.voice.listener", "callcenter.voice.bargein"):
        assert "callcenter.voice.session" not in graph[m], m
        assert PACKAGE not in graph[m], m  # the package imports the session


def test_voice_imports_nothing_from_the_edges() -> None:
    bad = {
        f"{_module(p)} imports {i}"
        for p in VOICE.glob("*.py")
        for i in _imports(p)
        if any(i == f or i.startswith(f + ".") or i.startswith(f + "_") for f in FORBIDDEN)
    }
    assert not bad, sorted(bad)
