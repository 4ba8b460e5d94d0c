"""A supervisor takes over (barges into) a call the AI has alone: the runner's step.

From any node the call becomes supervised as after a connected escalation; what it waited
for is dropped; a hand-back without a node resumes where it was, asking only what is still
unanswered; the state survives a checkpoint round trip mid-take-over.
"""

from __future__ import annotations

import datetime as dt

from callcenter.flow.actions import Action, AgentTurn, Listen, RecordEvent, Say
from callcenter.flow.events import (
    AgentReply,
    CallStarted,
    EscalationResult,
    Event,
    TakenOver,
    UserSaid,
)
from callcenter.flow.runner import FlowRunner
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import check_flow_text

FLOW = """
name: take_over_line
start: hello
nodes:
  hello:
    type: say
    text: Welcome to the help line.
    next: ask_account
  ask_account:
    type: ask
    slot: account
    expect: digits
    prompt: Please say your four digit account number.
    next: ask_zip
  ask_zip:
    type: ask
    slot: zip
    expect: digits
    prompt: And your five digit zip code?
    next: helper
  helper:
    type: agent
    instructions: Help the caller with their bill.
    greeting: How can I help with your bill?
    on_done: bye
  bye:
    type: hangup
    say: Thanks for calling, goodbye.
"""
NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


class Run:
    def __init__(self) -> None:
        flow, problems = check_flow_text(FLOW, "take_over_line.yaml")
        assert flow is not None, problems
        self.runner = FlowRunner(flow)
        self.state = self.runner.new_state()
        self.log: list[Action] = []

    def send(self, event: Event) -> list[Action]:
        self.state, actions = self.runner.step(self.state, event.model_copy(
            update={"now": NOW}))
        self.log += actions
        return [a for a in actions if not isinstance(a, RecordEvent)]

    def records(self, name: str) -> list[dict[str, object]]:
        return [a.data for a in self.log if isinstance(a, RecordEvent) and a.event == name]


def said(actions: list[Action]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def test_take_over_while_the_greeting_plays_then_hand_back_asks_the_question() -> None:
    run = Run()
    first = run.send(CallStarted(call_id="c1"))
    assert said(first)[0] == "Welcome to the help line."
    # The say node spoke and the call already listens at ask_account (a say never waits).
    assert (run.state.node, run.state.waiting_for) == ("ask_account", "input")
    assert run.send(TakenOver(supervisor="sup-ada")) == [], "nothing is said or listened for"
    st = run.state
    assert (st.status, st.waiting_for, st.taken_over_at) == ("escalated", "escalation",
                                                             "ask_account")
    assert st.was_escalated
    assert run.records("taken_over") == [{"node": "ask_account", "supervisor": "sup-ada",
                                          "was_waiting_for": "input"}]
    # While the supervisor talks, caller words are not answers for the AI.
    assert run.send(UserSaid(text="one two three four")) == []
    assert "account" not in run.state.slots
    back = run.send(EscalationResult(outcome="handed_back", supervisor="sup-ada"))
    assert said(back) == ["Please say your four digit account number."]
    assert isinstance(back[-1], Listen)
    assert (run.state.status, run.state.node, run.state.taken_over_at) == (
        "waiting", "ask_account", None)


def test_mid_ask_the_answered_question_is_not_asked_again_and_slots_stay() -> None:
    run = Run()
    run.send(CallStarted(call_id="c1"))
    run.send(UserSaid(text="1234"))
    assert (run.state.node, run.state.slots) == ("ask_zip", {"account": "1234"})
    run.send(TakenOver(supervisor="sup-ada"))
    assert run.state.taken_over_at == "ask_zip"
    # A failover mid-take-over: the checkpoint comes back supervised, at the same node.
    saved = RunnerState.model_validate_json(run.state.model_dump_json())
    assert saved == run.state
    run.state = saved
    # The supervisor resumes at the start; what the caller answered is kept and not asked.
    back = run.send(EscalationResult(outcome="handed_back", resume_at="ask_account"))
    assert said(back) == ["And your five digit zip code?"]
    assert run.state.slots == {"account": "1234"}
    assert run.records("slot_already_known") == [{"node": "ask_account", "slot": "account"}]
    assert sum("account number" in t for t in said(run.log)) == 1


def test_take_over_from_an_agent_turn_drops_the_reply_and_resumes_without_greeting() -> None:
    run = Run()
    run.send(CallStarted(call_id="c1"))
    run.send(UserSaid(text="1234"))
    greet = run.send(UserSaid(text="90210"))
    assert said(greet) == ["How can I help with your bill?"]
    turn = run.send(UserSaid(text="why is my bill so high"))
    assert isinstance(turn[-1], AgentTurn) and run.state.waiting_for == "agent"
    run.send(TakenOver(supervisor="sup-ada"))
    assert (run.state.taken_over_at, run.state.status) == ("helper", "escalated")
    # The LLM's answer arrives after the supervisor took over: it is not spoken.
    assert run.send(AgentReply(text="Your bill includes a late fee.")) == []
    assert all(m.content != "Your bill includes a late fee." for m in run.state.history)
    run.state = run.runner.note(run.state, "The supervisor removed the late fee.")
    back = run.send(EscalationResult(outcome="handed_back"))
    assert said(back) == [], "the agent does not greet the caller a second time"
    assert isinstance(back[-1], Listen) and run.state.node == "helper"
    assert run.state.history[-1].content == "The supervisor removed the late fee."


def test_ended_by_the_supervisor_and_refusals() -> None:
    run = Run()
    run.send(CallStarted(call_id="c1"))
    run.send(TakenOver(supervisor="sup-ada"))
    again = Run()
    again.state = run.state
    # A second take-over of a supervised call changes nothing.
    again.send(TakenOver(supervisor="sup-bob"))
    assert again.state == run.state
    assert again.records("ignored")[0]["kind"] == "taken_over"
    # A queue's timeout does not apply to a taken-over call.
    run.send(EscalationResult(outcome="timeout"))
    assert run.state.status == "escalated"
    run.send(EscalationResult(outcome="ended", supervisor="sup-ada"))
    assert (run.state.status, run.state.outcome) == ("ended", "escalated")
    # Not started yet: nothing to take over.
    fresh = Run()
    fresh.send(TakenOver(supervisor="sup-ada"))
    assert fresh.state.status == "new" and fresh.state.taken_over_at is None
