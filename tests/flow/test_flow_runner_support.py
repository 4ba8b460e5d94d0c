"""The customer-support example walked by events: order status, billing agent, escalation."""

from __future__ import annotations

import datetime as dt

from callcenter.flow.actions import AgentTurn, CallWebhook, ClassifyIntent, Escalate, Listen
from callcenter.flow.events import (
    AgentReply,
    CallerHungUp,
    DtmfReceived,
    EscalationResult,
    IntentResult,
    NoInput,
    ToolCallRequest,
    UserSaid,
    WebhookResult,
)
from tests.flow.flowcall import Call, kinds, spoken


def test_order_status_by_keypad_and_speech_reaches_goodbye_with_slots() -> None:
    call = Call("customer_support")
    first = call.start()
    assert spoken(first)[0] == ("Thanks for calling Acme Outfitters. I can check on an order "
                                "or help with billing.")
    assert kinds(first) == ["say", "say", "listen"]
    assert isinstance(first[-1], Listen) and first[-1].dtmf_keys == ["1", "2", "0"]
    asked = call.send(DtmfReceived(digits="1"))
    assert isinstance(asked[-1], Listen) and asked[-1].slot == "order_number"
    assert asked[-1].dtmf_terminator == "#" and asked[-1].dtmf_max_digits == 6
    hook = call.send(UserSaid(text="One, two, three, four, five, six."))
    assert isinstance(hook[0], CallWebhook)
    assert hook[0].url == "https://orders.example.com/api/orders/123456"
    assert hook[0].method == "GET"
    reply = call.send(WebhookResult(request_id=hook[0].request_id, ok=True, status=200,
                                    data={"status": "shipped", "delivery": {"eta": "on Friday"}}))
    assert spoken(reply) == ["Order one two three four five six has shipped and should arrive "
                             "on Friday.",
                             "Is there anything else I can help you with?"]
    # A yes/no question takes one key (1 = yes, 2 = no), no '#' needed.
    assert isinstance(reply[-1], Listen)
    assert (reply[-1].dtmf_max_digits, reply[-1].dtmf_terminator, reply[-1].dtmf_keys) == (
        1, None, ["1", "2"])
    done = call.send(UserSaid(text="No, that's it."))
    assert spoken(done) == ["Thanks for calling Acme Outfitters. Goodbye!"]
    assert kinds(done)[-1] == "hangup"
    assert call.state.outcome == "completed"
    assert call.state.slots == {"topic": "order", "order_number": "123456", "more_help": False}
    assert call.state.variables["order_status"] == "shipped"
    assert call.state.path == ["greet", "main_menu", "ask_order_number", "lookup_order",
                               "order_result", "say_shipped", "anything_else", "more_help_branch",
                               "goodbye"]
    assert [r["slot"] for r in call.records("slot_set")] == ["topic", "order_number",
                                                            "more_help"]


def test_invalid_order_number_gets_no_match_prompt_then_dtmf_works() -> None:
    call = Call("customer_support")
    call.start()
    call.send(UserSaid(text="order status please"))
    retry = call.send(UserSaid(text="one two three"))
    assert spoken(retry) == ["Order numbers have six digits. Please try again."]
    assert isinstance(retry[-1], Listen)
    hook = call.send(DtmfReceived(digits="654321#"))
    assert isinstance(hook[0], CallWebhook) and hook[0].url.endswith("/654321")


def test_webhook_is_retried_then_its_failure_route_escalates() -> None:
    call = Call("customer_support")
    call.start()
    call.send(DtmfReceived(digits="1"))
    first = call.send(DtmfReceived(digits="123456"))
    assert isinstance(first[0], CallWebhook) and first[0].attempt == 1
    again = call.send(WebhookResult(request_id=first[0].request_id, ok=False, error="timeout"))
    assert isinstance(again[0], CallWebhook) and again[0].attempt == 2
    failed = call.send(WebhookResult(request_id=again[0].request_id, ok=False, status=503))
    assert spoken(failed) == ["I can't reach our order system right now."]
    assert isinstance(failed[-1], Escalate) and failed[-1].queue == "support"
    assert failed[-1].priority == "high"
    assert failed[-1].reason == "Caller needs a person. Topic: order. Order: 123456."


def test_billing_question_goes_through_llm_with_a_webhook_tool_then_frustration_escalates(
) -> None:
    call = Call("customer_support")
    call.start()
    greet = call.send(UserSaid(text="I have a question about my bill"))
    assert spoken(greet) == ["Sure. What's your billing question?"]
    call.classify = False  # the test plays the classifier from here on
    classify = call.send(UserSaid(text="Why was I charged twice this month?"))
    assert isinstance(classify[0], ClassifyIntent)
    # The flow's intents plus the human-request handler's, matched by meaning.
    assert set(classify[0].intents) == {"frustrated", "order_question", "done",
                                        "payment_methods", "__human__"}
    turn = call.send(IntentResult(intent=None, confidence=0.2))
    assert isinstance(turn[0], AgentTurn)
    assert "billing assistant of Acme Outfitters" in turn[0].instructions
    assert [t["name"] for t in turn[0].tools] == ["lookup_invoice", "escalate",
                                                 "end_conversation"]
    assert turn[0].chat_messages()[-1].content == "Why was I charged twice this month?"
    tool = call.send(AgentReply(text="Let me look that up.", tool_calls=[
        ToolCallRequest(id="t1", name="lookup_invoice", arguments={"account_number": "42"})]))
    assert spoken(tool) == ["Let me look that up."]
    assert isinstance(tool[1], CallWebhook) and tool[1].body == {"account_number": "42"}
    again = call.send(WebhookResult(request_id=tool[1].request_id, ok=True,
                                    data={"amount": 30, "status": "duplicate"}))
    assert isinstance(again[0], AgentTurn)
    assert again[0].history[-1].role == "tool" and '"duplicate"' in again[0].history[-1].content
    answer = call.send(AgentReply(text="You were charged twice; I've flagged a refund."))
    assert spoken(answer) == ["You were charged twice; I've flagged a refund."]
    assert isinstance(answer[-1], Listen)
    call.send(UserSaid(text="This is ridiculous, third time I'm calling"))
    escalate = call.send(IntentResult(intent="frustrated", confidence=0.81))
    assert isinstance(escalate[-1], Escalate)
    call.send(EscalationResult(outcome="connected", supervisor="sam"))
    assert call.state.status == "escalated"
    call.send(CallerHungUp())
    assert call.state.outcome == "escalated"
    assert call.records("intent")[0]["intent"] == "frustrated"


def test_canned_intent_answer_stays_in_agent_node_and_escalate_tool_leaves_it() -> None:
    call = Call("customer_support")
    call.start()
    call.send(DtmfReceived(digits="2"))
    call.classify = False
    call.send(UserSaid(text="can I pay with paypal"))
    answer = call.send(IntentResult(intent="payment_methods", confidence=0.9))
    assert spoken(answer) == ["We accept all major credit cards and PayPal."]
    assert call.state.node == "billing_agent"
    call.send(UserSaid(text="my invoice looks wrong"))
    call.send(IntentResult(intent=None, confidence=0.1))
    out = call.send(AgentReply(tool_calls=[ToolCallRequest(
        id="e", name="escalate", arguments={"reason": "disputes a charge"})]))
    assert isinstance(out[-1], Escalate) and call.state.node == "to_human"
    assert out[-1].summary["agent_reason"] == "disputes a charge"
    assert out[-1].summary["path"][-2:] == ["billing_agent", "to_human"]


def test_asking_for_a_human_anywhere_fires_the_handler() -> None:
    call = Call("customer_support")
    call.start()
    out = call.send(UserSaid(text="Can I talk to a real person?"))
    assert spoken(out) == ["Of course. Let me get someone from our team."]
    assert isinstance(out[-1], Escalate)
    # Nothing is known yet: the reason leaves out topic and order instead of "topic: , order: ".
    assert out[-1].reason == "Caller needs a person."
    assert call.records("handler")[0]["handler"] == "human_request"
    timeout = call.send(EscalationResult(outcome="timeout"))
    assert spoken(timeout)[0].startswith("Everyone on our team is busy")
    assert call.state.outcome == "completed"


def test_pressing_zero_escalates_with_only_the_topic_in_the_reason() -> None:
    call = Call("customer_support")
    call.start()
    out = call.send(DtmfReceived(digits="0"))
    assert isinstance(out[-1], Escalate)
    assert out[-1].reason == "Caller needs a person. Topic: person."


def test_silence_reprompts_then_the_silence_handler_ends_the_call() -> None:
    call = Call("customer_support")
    call.start()
    again = call.send(NoInput())
    assert spoken(again)[0].startswith("For the status of an order")
    call.send(NoInput())
    end = call.send(NoInput())
    assert spoken(end)[0] == "I haven't heard anything for a while, so I'll end the call now."
    assert kinds(end)[-1] == "hangup" and call.state.outcome == "completed"


def test_max_duration_handler_fires_from_event_time() -> None:
    call = Call("customer_support")
    call.start()
    late = call.now + dt.timedelta(seconds=901)
    out = call.send(UserSaid(text="order", now=late))
    assert isinstance(out[-1], Escalate)
    assert call.records("handler")[0]["handler"] == "max_duration"


def test_stale_results_and_events_after_the_end_are_ignored() -> None:
    call = Call("customer_support")
    call.start()
    call.send(DtmfReceived(digits="1"))
    call.send(DtmfReceived(digits="123456"))
    assert call.send(WebhookResult(request_id="nope", ok=True)) == []
    assert call.state.waiting_for == "webhook"
    call.send(CallerHungUp())
    assert call.state.outcome == "hangup"
    assert call.send(UserSaid(text="hello?")) == []
    assert call.records("ignored")[-1]["why"] == "call already ended"
