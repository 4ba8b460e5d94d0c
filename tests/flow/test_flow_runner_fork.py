"""A runner step never changes the state it was given, and does not copy the conversation.

`FlowRunner.step` works on `RunnerState.fork()`: new containers, shared messages and slot
values. These tests hold both halves of that bargain: every earlier state (the checkpoint
of the step before) is unchanged after the step, whatever the step wrote, and a step's
cost does not grow with the conversation (its messages are the same objects, not copies).
"""

from __future__ import annotations

from callcenter.flow.actions import Action, AgentMessage, AgentTurn, CallWebhook
from callcenter.flow.events import (
    AgentReply,
    DtmfReceived,
    Event,
    IntentResult,
    ToolCallRequest,
    UserSaid,
    WebhookResult,
)
from callcenter.flow.state import RunnerState
from tests.flow.flowcall import Call


class CheckedCall(Call):
    """A call whose every step is checked to leave the previous state as it was."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.states: list[tuple[RunnerState, dict[str, object]]] = []

    def send(self, event: Event) -> list[Action]:
        self.states.append((self.state, self.state.model_dump(mode="json")))
        out = super().send(event)
        for old, dumped in self.states:
            assert old.model_dump(mode="json") == dumped, f"step on {event.kind} changed it"
        return out


def test_no_step_changes_an_earlier_state_on_the_order_path() -> None:
    call = CheckedCall("customer_support")
    call.start()
    call.send(DtmfReceived(digits="1"))
    hook = call.send(UserSaid(text="One, two, three, four, five, six."))
    assert isinstance(hook[0], CallWebhook)
    # Nested webhook data lands in the variables: later steps must not write into it.
    call.send(WebhookResult(request_id=hook[0].request_id, ok=True, status=200,
                            data={"status": "shipped", "delivery": {"eta": "on Friday"}}))
    call.send(UserSaid(text="No, that's it."))
    assert call.state.outcome == "completed"
    assert call.state.slots["order_number"] == "123456"


def test_no_step_changes_an_earlier_state_through_agent_turns_and_tools() -> None:
    call = CheckedCall("customer_support")
    call.start()
    call.send(UserSaid(text="I have a question about my bill"))
    call.classify = False
    call.send(UserSaid(text="Why was I charged twice this month?"))
    call.send(IntentResult(intent=None, confidence=0.2))
    tool = call.send(AgentReply(text="Let me look that up.", tool_calls=[
        ToolCallRequest(id="t1", name="lookup_invoice", arguments={"account_number": "42"})]))
    assert isinstance(tool[1], CallWebhook)
    again = call.send(WebhookResult(request_id=tool[1].request_id, ok=True,
                                    data={"amount": 30, "status": "duplicate"}))
    assert isinstance(again[0], AgentTurn)
    call.send(AgentReply(text="You were charged twice; I've flagged a refund."))
    assert [m.role for m in call.state.history][-4:] == ["user", "assistant", "tool",
                                                         "assistant"]
    # The conversation grew in the new states only.
    assert len(call.states[2][0].history) < len(call.state.history)


def test_heard_and_note_leave_the_state_they_were_given() -> None:
    call = Call("customer_support")
    call.start()
    call.send(DtmfReceived(digits="2"))
    call.state = call.state.fork()
    call.state.history += [AgentMessage(role="user", content="hi"),
                           AgentMessage(role="assistant", content="Hello there, how are you")]
    before = call.state.model_dump(mode="json")
    cut = call.runner.heard(call.state, "Hello there, how are you", "Hello there")
    noted = call.runner.note(cut, "The caller is a VIP.")
    assert call.state.model_dump(mode="json") == before
    assert cut.history[-1].content == "Hello there" and cut.history[-1].interrupted
    assert noted.history[-1].role == "system" and len(cut.history) == len(noted.history) - 1


def test_a_step_shares_the_conversation_instead_of_copying_it() -> None:
    call = Call("customer_support")
    call.start()
    call.send(DtmfReceived(digits="2"))
    call.classify = False
    # A long call: 400 messages. A deep copy per step would copy every one of them.
    call.state = call.state.fork()
    call.state.history += [AgentMessage(role="user" if i % 2 else "assistant", content=f"m{i}")
                           for i in range(400)]
    old = call.state
    call.send(UserSaid(text="one more question"))
    call.send(IntentResult(intent=None, confidence=0.1))  # not a canned answer: the LLM
    new = call.state
    assert new is not old and new.history is not old.history
    assert len(new.history) == len(old.history) + 1
    assert all(a is b for a, b in zip(old.history, new.history, strict=False))
    assert new.slots is not old.slots and new.variables is not old.variables
