"""A take-over while a webhook node waits for its reply: the hand-back does not call it again.

The request was already sent when the supervisor barged in (a refund, a ticket): its reply,
arriving while the supervisor talks, is kept, and the hand-back goes on from it. Without a
kept reply (none came, or it failed) the hand-back calls the webhook as before.
"""

from __future__ import annotations

import datetime as dt

from callcenter.flow.actions import Action, CallWebhook, Listen, RecordEvent, Say
from callcenter.flow.events import (
    CallStarted,
    EscalationResult,
    Event,
    TakenOver,
    UserSaid,
    WebhookResult,
)
from callcenter.flow.runner import FlowRunner
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import check_flow_text

FLOW = """
name: refunds
start: ask_order
nodes:
  ask_order:
    type: ask
    slot: order
    expect: digits
    prompt: Which order should I refund?
    next: refund
  refund:
    type: webhook
    method: POST
    url: https://shop.example.com/refunds
    body: {order: "{{order}}"}
    save: {refund_status: status}
    next: told
  told:
    type: say
    text: Your refund is {{refund_status}}.
    next: bye
  bye:
    type: hangup
    say: Goodbye.
"""
NOW = dt.datetime(2026, 12, 2, 14, 0, tzinfo=dt.UTC)


class Run:
    def __init__(self) -> None:
        flow, problems = check_flow_text(FLOW, "refunds.yaml")
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

    def to_the_webhook(self) -> CallWebhook:
        self.send(CallStarted(call_id="c1"))
        (hook,) = [a for a in self.send(UserSaid(text="4821")) if isinstance(a, CallWebhook)]
        assert self.state.waiting_for == "webhook"
        self.send(TakenOver(supervisor="sup-ada"))
        assert self.state.taken_over_at == "refund"
        return hook


def said(actions: list[Action]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def test_a_reply_kept_during_the_take_over_is_used_by_the_hand_back() -> None:
    run = Run()
    hook = run.to_the_webhook()
    late = run.send(WebhookResult(request_id=hook.request_id, ok=True, status=200,
                                  data={"status": "approved"}))
    assert late == [], "the supervisor has the call: nothing is said"
    assert run.state.variables["refund_status"] == "approved"
    # A failover mid-take-over keeps the reply too.
    run.state = RunnerState.model_validate_json(run.state.model_dump_json())
    back = run.send(EscalationResult(outcome="handed_back", supervisor="sup-ada"))
    assert not any(isinstance(a, CallWebhook) for a in back), "the refund is not sent twice"
    assert said(back) == ["Your refund is approved.", "Goodbye."]
    assert run.records("webhook_already_done") == [
        {"node": "refund", "request_id": hook.request_id}]
    assert run.state.path == ["ask_order", "refund", "told", "bye"]


def test_without_a_kept_reply_the_hand_back_calls_the_webhook() -> None:
    run = Run()
    hook = run.to_the_webhook()
    failed = run.send(WebhookResult(request_id=hook.request_id, ok=False, status=503))
    assert failed == [] and "refund_status" not in run.state.variables
    back = run.send(EscalationResult(outcome="handed_back"))
    (again,) = [a for a in back if isinstance(a, CallWebhook)]
    assert again.request_id != hook.request_id and again.body == {"order": "4821"}
    assert run.records("webhook_already_done") == []


def test_a_stale_reply_or_a_hand_back_elsewhere_does_not_skip_the_webhook() -> None:
    run = Run()
    hook = run.to_the_webhook()
    run.send(WebhookResult(request_id="refund-99", ok=True, data={"status": "forged"}))
    assert "refund_status" not in run.state.variables
    run.send(WebhookResult(request_id=hook.request_id, ok=True, data={"status": "approved"}))
    # The supervisor sends the call back to the question: the flow walks on from there.
    back = run.send(EscalationResult(outcome="handed_back", resume_at="ask_order"))
    assert run.state.node == "refund" and isinstance(back[-1], CallWebhook)
    assert run.state.stored_webhook is None
    # The reply of that new request is the node's normal result.
    done = run.send(WebhookResult(request_id=back[-1].request_id, ok=True,
                                  data={"status": "pending"}))
    assert said(done) == ["Your refund is pending.", "Goodbye."]
    assert not any(isinstance(a, Listen) for a in done)
