"""`flows publish --number`: a number another flow answers is moved only with --move."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.cli import app
from callcenter.config import get_settings
from callcenter.db import engine_for
from callcenter.models import Flow, FlowVersion, PhoneNumber

FLOWS = Path(__file__).resolve().parents[2] / "flows"
runner = CliRunner()
NUMBER = "+15550003333"


@pytest.fixture
def database() -> str:
    url = get_settings().effective_database_url
    migrate.upgrade(url)
    return url


def _owner(url: str) -> str | None:
    with Session(engine_for(url)) as s:
        row = s.exec(select(PhoneNumber).where(PhoneNumber.number == NUMBER)).first()
        flow = s.get(Flow, row.flow_id) if row is not None else None
        return flow.name if flow is not None else None


def test_a_number_held_by_another_flow_is_refused_then_moved_with_move(database: str) -> None:
    first = runner.invoke(app, ["flows", "publish", str(FLOWS / "customer_support.yaml"),
                                "--number", NUMBER])
    assert first.exit_code == 0, first.output
    other = str(FLOWS / "after_hours.yaml")
    refused = runner.invoke(app, ["flows", "publish", other, "--number", NUMBER])
    assert refused.exit_code == 1
    assert "already answers with flow 'customer_support'" in refused.output
    assert "--move" in refused.output
    assert _owner(database) == "customer_support"
    with Session(engine_for(database)) as s:  # atomic: the refused publish left no version
        assert s.exec(select(FlowVersion).join(Flow).where(Flow.name == "after_hours")).all() \
            == []
    moved = runner.invoke(app, ["flows", "publish", other, "--number", NUMBER, "--move"])
    assert moved.exit_code == 0, moved.output
    assert f"moved {NUMBER} from flow customer_support to after_hours" in moved.output
    assert _owner(database) == "after_hours"
