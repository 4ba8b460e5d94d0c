"""Agent nodes' `knowledge`: validated, retrieved offline by question similarity, and given
to the LLM as context."""

from __future__ import annotations

from callcenter.callsession.effects import IntentService
from callcenter.flow.actions import AgentTurn, ClassifyIntent, RecordEvent, Say
from callcenter.flow.events import CallStarted, UserSaid
from callcenter.flow.runner import FlowRunner
from callcenter.flow.validate import check_flow_text, load_flow

FLOW = """
name: kb
start: billing
nodes:
  billing:
    type: agent
    instructions: You answer billing questions.
    use_llm: {use_llm}
    knowledge:
      - q: do you charge a late payment fee
        a: Yes, a five dollar late fee applies after ten days.
    intents:
      - name: done
        examples: [that's all, goodbye]
        goto: bye
  bye:
    type: hangup
    say: Goodbye.
"""


def _run(text: str, said: str) -> list[object]:
    runner = FlowRunner(load_flow(text))
    state, actions = runner.step(runner.new_state(), CallStarted(call_id="c1"))
    state, actions = runner.step(state, UserSaid(text=said))
    ask = next(a for a in actions if isinstance(a, ClassifyIntent))
    state, actions = runner.step(state, IntentService().classify(ask))
    return [*actions]


def test_a_caller_question_near_a_knowledge_q_is_answered_offline_without_the_llm() -> None:
    actions = _run(FLOW.format(use_llm="false"), "is there a penalty if I pay my bill late")
    said = [a.text for a in actions if isinstance(a, Say)]
    assert said == ["Yes, a five dollar late fee applies after ten days."]
    assert any(isinstance(a, RecordEvent) and a.event == "knowledge" for a in actions)


def test_the_llm_gets_the_knowledge_as_context_when_no_question_is_near() -> None:
    actions = _run(FLOW.format(use_llm="true"), "can you explain the taxes on my invoice")
    turn = next(a for a in actions if isinstance(a, AgentTurn))
    assert "Q: do you charge a late payment fee" in turn.instructions
    assert "five dollar late fee" in turn.instructions


def test_knowledge_items_are_validated() -> None:
    bad = FLOW.format(use_llm="false").replace(
        "      - q: do you charge a late payment fee\n",
        "      - q: do you charge a late payment fee\n        a: One.\n"
        "      - q: Do you charge a  late payment fee\n")
    flow, problems = check_flow_text(bad)
    assert flow is None or problems
    assert any("already answered" in p.message for p in problems), problems
    missing, problems = check_flow_text(FLOW.format(use_llm="false").replace(
        "        a: Yes, a five dollar late fee applies after ten days.\n", ""))
    assert missing is None and any("'a'" in p.message and p.line == 10 for p in problems)
