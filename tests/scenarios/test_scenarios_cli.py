"""`callcenter flows test FILE`: the flow's scenarios from the command line (CI's view)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from callcenter.cli import app

FLOWS = Path(__file__).resolve().parents[2] / "flows"
runner = CliRunner()
WRONG = """turns:
  - press: "1"
  - press: "482913#"
expect:
  slots: {order_number: "999999"}
"""


def _copy(tmp_path: Path) -> Path:
    shutil.copy(FLOWS / "customer_support.yaml", tmp_path / "customer_support.yaml")
    shutil.copytree(FLOWS / "scenarios" / "customer_support",
                    tmp_path / "scenarios" / "customer_support")
    return tmp_path / "customer_support.yaml"


def test_passing_scenarios_exit_zero(tmp_path: Path) -> None:
    flow = _copy(tmp_path)
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["flows", "test", str(flow), "--keyword-intents",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "customer_support: 3 passed" in result.output
    body = json.loads(out.read_text())
    assert body["passed"] and {s["status"] for s in body["scenarios"]} == {"passed"}


def test_a_failing_and_a_broken_scenario_exit_one_with_why(tmp_path: Path) -> None:
    flow = _copy(tmp_path)
    folder = tmp_path / "scenarios" / "customer_support"
    (folder / "wrong.yaml").write_text(WRONG)
    (folder / "broken.yaml").write_text("turns:\n  - dtmf: '1'\nexpect: {outcome: hangup}\n")
    result = runner.invoke(app, ["flows", "test", str(flow), "--keyword-intents"])
    assert result.exit_code == 1, result.output
    assert 'slot order_number: expected "999999", got "482913"' in result.output
    assert "customer_support/broken.yaml:2:5: unknown turn 'dtmf'" in result.output
    assert "3 passed, 1 failed, 1 invalid" in result.output


def test_no_scenarios_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copy(FLOWS / "after_hours.yaml", tmp_path / "after_hours.yaml")
    result = runner.invoke(app, ["flows", "test", str(tmp_path / "after_hours.yaml")])
    assert result.exit_code == 2
    assert "no scenarios for after_hours" in result.output
    assert str(tmp_path / "scenarios" / "after_hours") in result.output.replace("\n", "")
