"""`callcenter users ...` through Typer's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from callcenter import accounts
from callcenter.cli import app
from callcenter.config import get_settings
from callcenter.models import User
from tests.accounts.conftest import PASSWORD

runner = CliRunner()


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Point DATABASE_URL at the test database, as a user's environment would."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    return engine


def _user(engine: Engine, email: str) -> User | None:
    with Session(engine) as db:
        return accounts.find_user(db, email)


def test_create_prompts_hidden_twice_and_stores_a_hash(
    cli_db: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(
        app,
        ["users", "create", "Ann@Example.com", "--role", "admin", "--name", "Ann"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "created ann@example.com (admin)" in result.output
    assert PASSWORD not in result.output and PASSWORD not in caplog.text
    with Session(cli_db) as db:
        user = accounts.require_user(db, "ann@example.com")
        assert user.display_name == "Ann" and accounts.verify_password(user.password_hash, PASSWORD)
        [entry] = accounts.recent_audit(db, action="user.create")
        assert entry.actor.startswith("cli:")


def test_create_refuses_a_weak_password_clearly(cli_db: Engine) -> None:
    result = runner.invoke(
        app, ["users", "create", "bob@example.com", "--password-stdin"], input="tooshort\n"
    )
    assert result.exit_code == 1
    assert "password too short (8 characters): use at least 12" in result.output
    assert _user(cli_db, "bob@example.com") is None


def test_password_is_never_a_plain_argument(cli_db: Engine) -> None:
    result = runner.invoke(app, ["users", "create", "x@example.com", "--password", PASSWORD])
    assert result.exit_code != 0 and _user(cli_db, "x@example.com") is None


def test_list_set_role_reset_password_disable(cli_db: Engine) -> None:
    for email, role in (("ann@example.com", "admin"), ("sam@example.com", "supervisor")):
        r = runner.invoke(
            app,
            ["users", "create", email, "--role", role, "--password-stdin"],
            input=PASSWORD + "\n",
        )
        assert r.exit_code == 0, r.output
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0
    assert "ann@example.com" in listed.output and "supervisor" in listed.output

    r = runner.invoke(app, ["users", "set-role", "sam@example.com", "admin"])
    assert r.exit_code == 0 and "sam@example.com is now admin" in r.output
    r = runner.invoke(app, ["users", "set-role", "sam@example.com", "boss"])
    assert r.exit_code == 1 and "use one of admin, supervisor" in r.output

    new = "a different long passphrase"
    r = runner.invoke(app, ["users", "reset-password", "sam@example.com"], input=f"{new}\n{new}\n")
    assert r.exit_code == 0, r.output
    with Session(cli_db) as db:
        sam = accounts.require_user(db, "sam@example.com")
        assert accounts.verify_password(sam.password_hash, new)

    r = runner.invoke(app, ["users", "disable", "sam@example.com"])
    assert r.exit_code == 0 and "disabled" in r.output
    r = runner.invoke(app, ["users", "disable", "ann@example.com"])
    assert r.exit_code == 1 and "only active admin" in r.output
    r = runner.invoke(app, ["users", "disable", "nobody@example.com"])
    assert r.exit_code == 1 and "no user with email" in r.output
    listed = runner.invoke(app, ["users", "list"]).output
    sam_line = next(line for line in listed.splitlines() if "sam@example.com" in line)
    assert " no " in f" {sam_line} "


def test_create_token_prints_it_once_to_stdout(cli_db: Engine) -> None:
    runner.invoke(
        app, ["users", "create", "bot@example.com", "--password-stdin"], input=PASSWORD + "\n"
    )
    r = runner.invoke(app, ["users", "create-token", "bot@example.com", "--name", "ci"])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("cc_")
    with Session(cli_db) as db:
        user = accounts.user_for_token(db, token)
        assert user is not None and user.email == "bot@example.com"


def test_no_schema_says_run_db_upgrade(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    get_settings.cache_clear()
    r = runner.invoke(app, ["users", "list"])
    assert r.exit_code == 2 and "callcenter db upgrade" in r.output
