"""Settings: documented, validated, and never leaking secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callcenter.config import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.M))
    expected = {name.upper() for name in Settings.model_fields}
    assert documented == expected, (
        f"missing from .env.example: {sorted(expected - documented)}; "
        f"stale in .env.example: {sorted(documented - expected)}"
    )


def test_defaults_need_no_services(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{(tmp_path / 'callcenter.db').resolve()}"
    assert s.redis_url is None and s.livekit_url is None


def test_postgres_url_uses_psycopg3_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db:5432/cc")
    assert load_settings().effective_database_url == "postgresql+psycopg://app@db:5432/cc"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("REDIS_URL", "localhost:6379"),
        ("STT_PROVIDER", "siri"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=var):
        load_settings()


def test_livekit_url_without_credentials_says_which_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVEKIT_URL", "wss://example.livekit.cloud")
    with pytest.raises(SettingsError, match="LIVEKIT_API_KEY"):
        load_settings()


def test_secrets_are_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-value")
    s = load_settings()
    assert "sk-very-secret-value" not in repr(s)
    assert "sk-very-secret-value" not in str(s.model_dump())
