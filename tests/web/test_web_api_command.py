"""`callcenter api`: refuses a guessable SECRET_KEY outside dev mode, then serves via uvicorn."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.cli import app
from callcenter.config import SettingsError, check_secret_key, get_settings, load_settings

runner = CliRunner()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """Capture uvicorn.run instead of listening; a migrated SQLite database."""
    import uvicorn

    # The command configures logging onto CliRunner's stderr, closed after each invoke.
    root = logging.getLogger()
    handlers, level, structlog_config = root.handlers[:], root.level, structlog.get_config()

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append({"app": target, **kw}))
    url = f"sqlite:///{tmp_path / 'api.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DEV_MODE", "false")  # restored (unset) after the test
    monkeypatch.delenv("SECRET_KEY", raising=False)
    get_settings.cache_clear()
    yield calls
    root.handlers[:], root.level = handlers, level
    structlog.configure(**structlog_config)


def test_refuses_the_development_secret_key(served: list[dict[str, Any]]) -> None:
    result = runner.invoke(app, ["api"])
    assert isinstance(result.exception, SettingsError)
    assert "SECRET_KEY" in str(result.exception) and "--dev" in str(result.exception)
    assert served == []


def test_refuses_a_short_secret_key(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "short-key")
    get_settings.cache_clear()
    result = runner.invoke(app, ["api"])
    assert isinstance(result.exception, SettingsError) and "at least 32" in str(result.exception)


def test_dev_flag_allows_it_and_serves_the_factory(served: list[dict[str, Any]]) -> None:
    result = runner.invoke(app, ["api", "--dev", "--port", "8765", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    [call] = served
    assert call["app"] == "admin.app:create_app" and call["factory"] is True
    assert (call["host"], call["port"], call["proxy_headers"]) == ("0.0.0.0", 8765, True)


def test_real_secret_key_serves(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "x9" * 24)
    get_settings.cache_clear()
    result = runner.invoke(app, ["api"])
    assert result.exit_code == 0, result.output
    assert served and served[0]["port"] == 8000


def test_empty_database_says_run_db_upgrade(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    result = runner.invoke(app, ["api", "--dev"])
    assert result.exit_code == 2 and "callcenter db upgrade" in result.output


def test_check_secret_key_rules() -> None:
    with pytest.raises(SettingsError, match="built-in development value"):
        check_secret_key(load_settings())
    check_secret_key(load_settings(dev_mode=True))
    check_secret_key(load_settings(secret_key="k" * 32))
