"""`callcenter calls list|show` prints what the admin's calls pages show (CliRunner)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from callcenter.cli import app
from callcenter.config import get_settings
from tests.web.calls_data import CARD, HEARD, PLANNED, many_calls, rich_call

runner = CliRunner()


@pytest.fixture
def db_env(any_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("DATABASE_URL", any_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    return any_engine


def test_calls_list_filters_and_pages(db_env: Engine) -> None:
    calls = many_calls(db_env, 120, versions=[])
    failed = sorted((c for c in calls if c.status == "failed"),
                    key=lambda c: (c.started_at, c.id), reverse=True)
    r = runner.invoke(app, ["calls", "list", "--status", "failed", "--per-page", "5"])
    assert r.exit_code == 0, r.output
    assert f"{len(failed)} call(s), page 1 of {-(-len(failed) // 5)}" in r.output
    assert failed[0].id in r.output and failed[5].id not in r.output
    r = runner.invoke(app, ["calls", "list", "--version", "2"])
    assert r.exit_code == 2 and "needs --flow" in r.output  # bad input: usage error
    r = runner.invoke(app, ["calls", "list", "--last", "soon"])
    assert r.exit_code == 2 and "30m, 24h, 7d" in r.output


def test_calls_show_prints_transcript_heard_keypad_latency(db_env: Engine) -> None:
    call_id = rich_call(db_env, processed=True, keep_raw=True)
    r = runner.invoke(app, ["calls", "show", call_id])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert HEARD in out and "(interrupted)" in out and f"planned: {PLANNED}" in out
    assert "pressed 2" in out and "supervisor Hi, this is Dana" in out
    assert "p50 820 ms, p95 1710 ms" in out and "supervisor Dana" in out
    assert CARD not in out and "[CARD]" in out and "redacted" in out
    raw = runner.invoke(app, ["calls", "show", call_id, "--raw"])
    assert CARD in " ".join(raw.output.split())
    missing = runner.invoke(app, ["calls", "show", "nope"])
    assert missing.exit_code == 1 and "no call with id nope" in missing.output
