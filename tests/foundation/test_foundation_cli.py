"""The CLI as a user runs it: a real subprocess, in a fresh directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DATA_DIR"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120,
    )


def test_help_lists_commands_with_help(tmp_path: Path) -> None:
    out = _run(["--help"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "db" in out.stdout and "Database schema" in out.stdout


def test_db_upgrade_creates_schema_and_is_idempotent(tmp_path: Path) -> None:
    first = _run(["db", "upgrade"], tmp_path)
    assert first.returncode == 0, first.stderr
    db = tmp_path / ".callcenter" / "callcenter.db"
    assert db.exists()
    second = _run(["db", "upgrade"], tmp_path)
    assert second.returncode == 0, second.stderr
    assert "already at" in second.stdout
    tables = sa.inspect(sa.create_engine(f"sqlite:///{db}")).get_table_names()
    assert "calls" in tables


def test_wrong_database_url_gives_one_clear_line(tmp_path: Path) -> None:
    out = _run(["db", "upgrade"], tmp_path, DATABASE_URL="postgresql://nobody@127.0.0.1:1/nope")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "DATABASE_URL" in lines[0], out.stderr


def test_malformed_database_url_names_the_variable(tmp_path: Path) -> None:
    out = _run(["db", "upgrade"], tmp_path, DATABASE_URL="oracle://x")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "DATABASE_URL" in out.stderr


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    out = _run(["--version"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"callcenter {version('callcenter')}"
