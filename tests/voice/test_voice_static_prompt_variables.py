"""Prompts that name only the flow's own variables are static: their audio is cached.

"Thanks for calling {{company}}" is the same on every call of the flow, so the greeting
and the goodbye start at once; a prompt with a caller's slot never is.
"""

from __future__ import annotations

from pathlib import Path

from callcenter.callsession.static_prompts import static_prompts
from callcenter.flow.validate import check_flow_text

FLOW = Path(__file__).resolve().parents[2] / "flows" / "customer_support.yaml"


def test_flow_variables_are_filled_in_and_slots_keep_a_prompt_out() -> None:
    flow, problems = check_flow_text(FLOW.read_text(encoding="utf-8"), str(FLOW))
    assert flow is not None, problems
    assert flow.variables["company"] == "Acme Outfitters"
    prompts = static_prompts(flow)
    assert ("Thanks for calling Acme Outfitters. I can check on an order or help with "
            "billing.") in prompts
    assert "Thanks for calling Acme Outfitters. Goodbye!" in prompts
    assert not [p for p in prompts if "{{" in p]
    assert not [p for p in prompts if "has shipped" in p]  # {{order_number}}: per call
