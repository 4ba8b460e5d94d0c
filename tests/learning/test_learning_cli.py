"""`callcenter learn list|show|accept|reject`: the review queue in the terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.cli import app
from callcenter.db import engine_for
from callcenter.flowstore import FlowStore
from callcenter.models import AuditEvent, Call, FlowVersion, Suggestion
from tests.learning.test_learning_replay import FLOW

runner = CliRunner(env={"COLUMNS": "200"})  # a wide table: no wrapped words


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'learn.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    from callcenter.config import get_settings

    get_settings.cache_clear()
    with Session(engine_for(url)) as s:
        FlowStore(s, "test").publish_text(FLOW)
        s.add(Call(id="c-1", room_name="r-1"))
        s.add(Suggestion(call_id="c-1", flow="help_line", flow_version=1, kind="knowledge",
                         target="billing_agent.knowledge", text_key="do you charge a late fee",
                         payload={"node": "billing_agent", "q": "do you charge a late fee",
                                  "a": "Yes, five dollars."},
                         evidence=[{"call_id": "c-1", "lines": [
                             {"seq": 3, "speaker": "caller", "text": "a late fee?"}]}]))
        s.add(Suggestion(call_id="c-1", flow="help_line", flow_version=1, kind="phrases",
                         target="main_menu.options.0", text_key="my parcel",
                         payload={"node": "main_menu", "phrases": ["my parcel is lost"]},
                         evidence=[{"call_id": "c-1", "lines": []}]))
        s.commit()
    yield url
    get_settings.cache_clear()


def test_list_show_accept_and_reject_from_the_terminal(db_url: str) -> None:
    listed = runner.invoke(app, ["learn", "list"])
    assert listed.exit_code == 0, listed.output
    assert "late fee" in listed.output and "my parcel is lost" in listed.output
    shown = runner.invoke(app, ["learn", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "Yes, five dollars." in shown.output and "knowledge" in shown.output

    accepted = runner.invoke(app, ["learn", "accept", "1"])
    assert accepted.exit_code == 0, accepted.output
    assert "draft v2 of help_line" in accepted.output
    again = runner.invoke(app, ["learn", "accept", "1"])
    assert again.exit_code == 1 and "already accepted" in again.output

    no_reason = runner.invoke(app, ["learn", "reject", "2", "--reason", " "])
    assert no_reason.exit_code == 1 and "say why" in no_reason.output
    rejected = runner.invoke(app, ["learn", "reject", "2", "--reason", "too vague"])
    assert rejected.exit_code == 0, rejected.output

    with Session(engine_for(db_url)) as s:
        versions = s.exec(select(FlowVersion)).all()
        assert [v.status for v in versions if v.version == 2] == ["draft"], "never published"
        actions = {a.action for a in s.exec(select(AuditEvent)).all()}
    assert {"suggestion.accept", "suggestion.reject"} <= actions
