"""Which code may import what: the test kit stays out of production, the web app out of the
platform, and rooms declare their capabilities instead of being probed.

Every module under `callcenter/` is parsed with `ast` (imports inside functions count too),
so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "callcenter"

# Modules outside callcenter/testing/ that may import the test kit, and why. Each is only
# reached from a command that runs scripted callers or canned answers, never from a worker.
TEST_KIT_USERS = {
    # `callcenter call`: one call on a local room with a scripted caller (scripts/demo).
    "callcenter/cli/call.py",
}
# Benchmarks drive scripted callers, fake providers and the fake LiveKit server; they run
# from `callcenter bench`, never inside a worker.
TEST_KIT_PACKAGES = ("callcenter/testing/", "callcenter/bench/")

ROOM_PROBE = re.compile(r"\b(?:getattr|hasattr)\(\s*(?:self\.|setup\.)?room\b")


def modules() -> list[tuple[str, ast.Module, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        found.append((rel, ast.parse(text, filename=rel), text))
    assert len(found) > 50, "the walk found too few modules: is PACKAGE right?"
    return found


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from callcenter import testing` names the package in the alias.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_only_the_scripted_call_path_imports_the_test_kit() -> None:
    offenders = [
        f"{rel} imports {name}"
        for rel, tree, _text in modules()
        if rel not in TEST_KIT_USERS and not rel.startswith(TEST_KIT_PACKAGES)
        for name in sorted(imported(tree))
        if _is(name, "callcenter.testing")
    ]
    assert offenders == [], (
        "production code imports the test kit (callcenter.testing); move the code that "
        "needs it into the kit, or list the module in TEST_KIT_USERS with why:\n"
        + "\n".join(offenders)
    )


def test_the_allowed_test_kit_users_still_exist() -> None:
    # A stale entry would quietly allow whatever takes its name later.
    for rel in TEST_KIT_USERS:
        assert (ROOT / rel).is_file(), f"{rel} is listed in TEST_KIT_USERS but is gone"


def test_the_platform_never_imports_the_web_app() -> None:
    offenders = [
        f"{rel} imports {name}"
        for rel, tree, _text in modules()
        for name in sorted(imported(tree))
        if _is(name, "admin")
    ]
    assert offenders == [], "callcenter/ must not import admin/:\n" + "\n".join(offenders)


def test_rooms_are_not_probed_for_capabilities() -> None:
    offenders = [
        f"{rel}:{n}: {line.strip()}"
        for rel, _tree, text in modules()
        for n, line in enumerate(text.splitlines(), 1)
        if ROOM_PROBE.search(line)
    ]
    assert offenders == [], (
        "Room declares its optional capabilities (clock, transfer, aclose) with typed "
        "errors; call them instead of probing with getattr/hasattr:\n" + "\n".join(offenders)
    )


def test_the_cli_and_the_worker_load_no_test_kit_module() -> None:
    """Allowed importers import the kit lazily: a worker process never has it in memory."""
    import subprocess
    import sys

    code = ("import sys, callcenter.cli, callcenter.callsession.handler,"
            " callcenter.dispatch.worker;"
            "print(sorted(m for m in sys.modules if m.startswith('callcenter.testing')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "[]", f"test kit loaded in production: {out}"
