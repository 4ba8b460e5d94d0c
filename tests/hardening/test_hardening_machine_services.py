"""The suite never stops, restarts or empties the machine's own Redis or PostgreSQL.

Fault tests start their own servers on free ports (tests/redis_server.py) and stop them by
pid. This scans the test and bench sources for the ways a test used to reach for the
machine's services, so a new test cannot quietly do it again.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "callcenter" / "bench").rglob("*.py"),
                  *(ROOT / "scripts").glob("*")])
SELF = Path(__file__).resolve()
# Whole-server operations no test may send, and process-wide kills by name.
FORBIDDEN = re.compile(
    r"(?i)\bflushall\b|\bshutdown\b\s*\(\s*(nosave|save)?|['\"]shutdown['\"]|\bpkill\b|"
    r"\bkillall\b|redis-cli\b.*\b(shutdown|flushall|flushdb)\b|pg_ctl\w*\b.*\b(stop|restart)\b|"
    r"systemctl\s+(stop|restart)|service\s+(redis|postgresql)\S*\s+(stop|restart)")
# A Redis a test empties must be its own (started on a free port).
OWN_SERVER = ("PrivateRedis", "private_redis", "_Redis(")


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, IsADirectoryError):
        return ""


def test_no_source_stops_or_wipes_a_whole_server() -> None:
    found = []
    for path in SOURCES:
        if path.resolve() == SELF:
            continue
        for n, line in enumerate(_text(path).splitlines(), 1):
            code = line.split("#", 1)[0]
            if FORBIDDEN.search(code) and "server.shutdown()" not in code \
                    and "ex.shutdown()" not in code:
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "a test must not stop or wipe a server it did not start:\n" + "\n".join(
        found)


def test_only_private_redis_servers_are_emptied() -> None:
    found = []
    for path in SOURCES:
        text = _text(path)
        if path.resolve() == SELF or not re.search(r"\.flushdb\(", text):
            continue
        if not any(own in text for own in OWN_SERVER):
            found.append(str(path.relative_to(ROOT)))
    assert not found, f"flushdb on a Redis the test did not start: {found}"
