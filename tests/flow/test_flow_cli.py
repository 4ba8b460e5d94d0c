"""`callcenter flows ...` and `callcenter chat` from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.cli import app
from callcenter.config import get_settings

FLOWS = Path(__file__).resolve().parents[2] / "flows"
runner = CliRunner()


def test_validate_examples_passes() -> None:
    result = runner.invoke(app, ["flows", "validate", *map(str, sorted(FLOWS.glob("*.yaml")))])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == 3


def test_validate_prints_one_line_per_problem_and_fails(tmp_path: Path) -> None:
    text = (FLOWS / "appointment_booking.yaml").read_text()
    text = text.replace("    next: ask_date\n", "    nxt: ask_date\n", 1)
    text = text.replace("timeout: 5\n", "timeout: soon\n")
    text = text.replace("goto: book", "goto: bok")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = runner.invoke(app, ["flows", "validate", str(bad)])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.startswith(str(bad))]
    assert len(lines) == 3, result.output
    numbers = [int(m.group(1)) for ln in lines if (m := re.match(rf"{bad}:(\d+):\d+: ", ln))]
    expected = [i + 1 for i, ln in enumerate(text.splitlines())
                if "nxt:" in ln or "goto: bok" in ln or "timeout: soon" in ln]
    assert numbers == expected
    assert "ask_name: unknown field 'nxt' (did you mean 'next'?)" in lines[0]
    assert "3 problem(s) in 1 file(s)" in result.output


def test_schema_prints_json_schema() -> None:
    result = runner.invoke(app, ["flows", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "callcenter call flow"


@pytest.fixture
def database() -> str:
    url = get_settings().effective_database_url
    migrate.upgrade(url)
    return url


@pytest.mark.usefixtures("database")
def test_seed_publish_list_rollback_round_trip(tmp_path: Path) -> None:
    seeded = runner.invoke(app, ["flows", "seed"])
    assert seeded.exit_code == 0, seeded.output
    assert seeded.output.count("published v1") == 3
    again = runner.invoke(app, ["flows", "seed"])
    assert again.output.count("unchanged") == 3
    changed = tmp_path / "support.yaml"
    changed.write_text((FLOWS / "customer_support.yaml").read_text().replace(
        "Acme Outfitters", "Acme Boots"))
    published = runner.invoke(app, ["flows", "publish", str(changed), "--number", "+15550002222"])
    assert published.exit_code == 0, published.output
    assert "published customer_support v2 on +15550002222" in published.output
    listed = runner.invoke(app, ["flows", "list"])
    assert re.search(r"customer_support\s*│\s*v2\s*│\s*v2\s*│\s*2\s*│\s*\+15550002222",
                     listed.output), listed.output
    rolled = runner.invoke(app, ["flows", "rollback", "customer_support", "1"])
    assert rolled.exit_code == 0, rolled.output
    listed = runner.invoke(app, ["flows", "list"])
    assert re.search(r"customer_support\s*│\s*v1\s*│\s*v2", listed.output), listed.output
    wrong = runner.invoke(app, ["flows", "rollback", "customer_support", "7"])
    assert wrong.exit_code == 1 and "has no version 7" in wrong.output


def test_commands_without_schema_say_to_upgrade() -> None:
    result = runner.invoke(app, ["flows", "list"])
    assert result.exit_code == 2
    assert "callcenter db upgrade" in result.output


def test_chat_walks_the_order_path_with_mocked_webhook(tmp_path: Path) -> None:
    mocks = tmp_path / "hooks.yaml"
    mocks.write_text("- match: GET https://orders.example.com/api/orders/123456\n"
                     "  json: {status: delivered}\n")
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["chat", "--flow", str(FLOWS / "customer_support.yaml"),
                                 "--webhooks", str(mocks), "--keyword-intents",
                                 "--json", str(out)],
                           input="order status\n1 2 3 4 5 6\nno\n")
    assert result.exit_code == 0, result.output
    assert "agent: Order 123456 was delivered." in result.output
    summary = json.loads(out.read_text())
    assert summary["outcome"] == "completed"
    assert summary["slots"] == {"topic": "order", "order_number": "123456", "more_help": False}
    assert summary["nodes"][-1] == "goodbye"


def test_chat_reports_flow_problems_instead_of_running(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstart: a\nnodes:\n  a: {type: hangup, sya: hi}\n")
    result = runner.invoke(app, ["chat", "--flow", str(bad)])
    assert result.exit_code == 1
    assert "unknown field 'sya' (did you mean 'say'?)" in result.output


def test_chat_agent_node_escalates_a_frustrated_caller_with_minilm(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["chat", "--flow", str(FLOWS / "customer_support.yaml"),
                                 "--json", str(out)],
                           input="billing\nthis is ridiculous, you people are useless\n")
    assert result.exit_code == 0, result.output
    assert "intent: frustrated" in result.output and "minilm" in result.output
    assert "[escalate to queue support, priority high" in result.output
    summary = json.loads(out.read_text())
    assert summary["outcome"] == "escalated"
    assert summary["nodes"][-2:] == ["billing_agent", "to_human"]
