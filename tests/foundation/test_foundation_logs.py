"""Secrets never reach the logs, whichever logging API a message goes through."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from callcenter.config import load_settings
from callcenter.logs import SecretMasker, configure_logging, secret_values


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging installs a handler on this test's captured stderr: undo it after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_configured_secrets_are_masked_in_structlog_and_stdlib(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdef123456")
    monkeypatch.setenv("LOG_FORMAT", "json")
    settings = load_settings()
    configure_logging(settings)
    structlog.get_logger().error("provider failed", detail="bad key sk-test-abcdef123456")
    logging.getLogger("openai").error("401 for key %s", "sk-test-abcdef123456")
    err = capsys.readouterr().err
    assert "provider failed" in err and "401 for key" in err
    assert "sk-test-abcdef123456" not in err


def test_masker_masks_longest_secret_first() -> None:
    masker = SecretMasker(["abcdef", "abcdef-ghijkl"])
    assert masker.mask("x abcdef-ghijkl y") == "x *** y"


def test_only_secret_settings_are_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-secret-0001")
    values = secret_values(load_settings())
    assert "dg-secret-0001" in values
    assert "gpt-4o-mini" not in values
