"""An answer heard with low confidence is read back and confirmed before it is stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from callcenter.flow import meaning
from callcenter.flow.actions import Action, ClassifyIntent, Escalate, Listen, RecordEvent, Say
from callcenter.flow.events import (
    CallStarted,
    DtmfReceived,
    Event,
    IntentResult,
    NoInput,
    TakenOver,
    UserSaid,
)
from callcenter.flow.readback import DIGITS_CONFIRM_BELOW, confirm_below
from callcenter.flow.runner import FlowRunner
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import check_flow_text

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
FLOW = """
name: orders
start: ask_order
handlers:
  human_request: {phrases: [real person], say: One moment., goto: to_human}
nodes:
  ask_order:
    type: ask
    slot: order_number
    expect: digits
    pattern: '\\d{6}'
    prompt: Please say your six digit order number.
    confirm: Thanks.
    retries: 1
    next: done
    on_failure: to_human
  done:
    type: hangup
    say: Goodbye.
  to_human:
    type: escalate
    queue: support
"""
LOW, HIGH = 0.35, 0.92


def flow_text(ask_extra: str = "") -> str:
    return FLOW.replace("    retries: 1\n", f"    retries: 1\n{ask_extra}")


class Run:
    """A call through FLOW; a ClassifyIntent is answered with `meaning_of` (no model)."""

    def __init__(self, text: str = FLOW) -> None:
        flow, problems = check_flow_text(text, "orders.yaml")
        assert flow is not None, problems
        self.runner = FlowRunner(flow)
        self.state = self.runner.new_state()
        self.log: list[Action] = []
        self.meaning_of: IntentResult = IntentResult(intent=None, confidence=0.0)
        self.send(CallStarted(now=NOW, call_id="c1"))

    def send(self, event: Event) -> list[Action]:
        self.state, actions = self.runner.step(self.state, event)
        self.log += actions
        if any(isinstance(a, ClassifyIntent) for a in actions):
            return self.send(self.meaning_of)
        return [a for a in actions if not isinstance(a, RecordEvent)]

    def records(self, name: str) -> list[dict[str, Any]]:
        return [a.data for a in self.log if isinstance(a, RecordEvent) and a.event == name]


def said(actions: list[Action]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def heard_unsurely(run: Run, text: str = "four eight two nine one three") -> list[Action]:
    return run.send(UserSaid(text=text, confidence=LOW))


def test_low_confidence_digits_are_read_back_in_groups_and_listened_for_yes_no() -> None:
    run = Run()
    out = heard_unsurely(run)
    assert said(out) == ["I heard four eight two, nine one three. Is that right?"]
    say = out[0]
    assert isinstance(say, Say) and say.display == "I heard 482913. Is that right?"
    listen = out[-1]
    assert isinstance(listen, Listen) and listen.expect_yes_no and listen.expect == "yes_no"
    assert listen.dtmf_keys == ["1", "2"] and listen.slot == "order_number"
    assert run.records("readback") == [
        {"slot": "order_number", "value": "482913", "confidence": LOW}]
    assert "order_number" not in run.state.slots and run.records("slot_set") == []
    assert run.state.node == "ask_order" and run.state.waiting_for == "input"


def test_yes_sets_the_slot_says_confirm_and_goes_next() -> None:
    run = Run()
    heard_unsurely(run)
    out = run.send(UserSaid(text="Yeah, that's right.", confidence=0.5))
    assert said(out) == ["Thanks.", "Goodbye."]
    assert run.state.slots == {"order_number": "482913"}
    assert run.records("slot_set")[-1]["value"] == "482913"
    assert run.state.outcome == "completed" and run.state.readback is None


def test_no_reprompts_with_an_apology_and_counts_as_a_retry() -> None:
    run = Run()
    heard_unsurely(run)
    out = run.send(UserSaid(text="No."))
    assert said(out) == ["Sorry about that.", "Please say your six digit order number."]
    assert isinstance(out[-1], Listen) and not out[-1].expect_yes_no
    assert run.state.attempts == 1 and run.state.readback is None
    assert "order_number" not in run.state.slots
    # retries: 1, so a second rejected read-back takes the node's failure route.
    heard_unsurely(run, "four eight two nine one four")
    out = run.send(DtmfReceived(digits="2"))
    assert isinstance(out[-1], Escalate)
    assert run.records("retries_exhausted") == [{"node": "ask_order", "why": "no_match"}]


def test_a_no_with_the_right_number_takes_it_without_another_read_back() -> None:
    run = Run()
    heard_unsurely(run)
    out = run.send(UserSaid(text="No, it's 4 8 2 9 1 4.", confidence=LOW))
    assert said(out) == ["Thanks.", "Goodbye."]
    assert run.state.slots == {"order_number": "482914"}
    assert len(run.records("readback")) == 1
    assert run.records("readback_confirmed")[-1]["how"] == "corrected"


def test_the_number_said_again_confirms_it() -> None:
    run = Run()
    heard_unsurely(run)
    run.send(UserSaid(text="four eight two nine one three", confidence=LOW))
    assert run.state.slots == {"order_number": "482913"}
    assert run.records("readback_confirmed")[-1]["how"] == "repeated"


def test_unclear_twice_is_treated_as_a_no() -> None:
    run = Run()
    heard_unsurely(run)
    again = run.send(UserSaid(text="hmm what"))
    assert said(again) == ["Please say yes or no. I heard four eight two, nine one three. "
                           "Is that right?"]
    assert isinstance(again[-1], Listen) and again[-1].expect_yes_no
    out = run.send(NoInput())
    assert said(out) == ["Sorry about that.", "Please say your six digit order number."]
    assert [r["why"] for r in run.records("readback_unclear")] == ["no_match", "no_input"]
    assert run.state.attempts == 1 and "order_number" not in run.state.slots


def test_keypad_1_confirms_and_2_rejects() -> None:
    run = Run()
    heard_unsurely(run)
    run.send(DtmfReceived(digits="1"))
    assert run.state.slots == {"order_number": "482913"}

    run = Run()
    heard_unsurely(run)
    out = run.send(DtmfReceived(digits="2"))
    assert said(out)[0] == "Sorry about that." and run.state.attempts == 1


def test_a_full_keypad_answer_at_the_confirmation_is_taken_as_keyed() -> None:
    run = Run()
    heard_unsurely(run)
    out = run.send(DtmfReceived(digits="654321#"))
    assert said(out) == ["Thanks.", "Goodbye."]
    assert run.state.slots == {"order_number": "654321"}
    assert len(run.records("readback")) == 1


def test_keypad_and_confident_speech_are_never_read_back() -> None:
    run = Run()
    run.send(DtmfReceived(digits="482913#"))
    assert run.state.slots == {"order_number": "482913"}
    run = Run()
    run.send(UserSaid(text="four eight two nine one three", confidence=HIGH))
    assert run.state.slots == {"order_number": "482913"}
    # Text channels (chat, scenarios, try-it) send no confidence: 1.0.
    run = Run()
    run.send(UserSaid(text="four eight two nine one three"))
    assert run.state.slots == {"order_number": "482913"} and run.records("readback") == []


def test_confirm_below_null_never_reads_back_and_a_set_value_applies_to_any_kind() -> None:
    run = Run(flow_text("    confirm_below: null\n"))
    run.send(UserSaid(text="four eight two nine one three", confidence=0.05))
    assert run.state.slots == {"order_number": "482913"} and run.records("readback") == []

    run = Run(flow_text("    confirm_below: 0.9\n"))
    heard_unsurely(run, "four eight two nine one three")
    assert run.records("readback")  # 0.35 < 0.9
    text_ask = FLOW.replace("    expect: digits\n    pattern: '\\d{6}'\n",
                            "    expect: date\n    confirm_below: 0.5\n")
    run = Run(text_ask)
    out = run.send(UserSaid(text="next tuesday", confidence=0.4))
    assert said(out) == ["I heard Tuesday, December first. Is that right?"]


def test_the_default_threshold_is_for_digits_only() -> None:
    flow, _ = check_flow_text(FLOW, "orders.yaml")
    assert flow is not None
    node = flow.nodes["ask_order"]
    assert node.type == "ask" and confirm_below(node) == DIGITS_CONFIRM_BELOW
    other = node.model_copy(update={"expect": "text"})
    assert confirm_below(other) is None


def test_a_custom_readback_question_is_used() -> None:
    run = Run(flow_text("    readback: Order {{value}}, did I get that right?\n"))
    out = heard_unsurely(run)
    assert said(out) == ["Order four eight two, nine one three, did I get that right?"]


def test_a_person_asked_for_during_the_confirmation_escalates() -> None:
    run = Run()
    heard_unsurely(run)
    out = run.send(UserSaid(text="I want a real person"))
    assert said(out)[0] == "One moment." and isinstance(out[-1], Escalate)
    assert run.state.readback is None and "order_number" not in run.state.slots
    # Said in other words, the classifier hears it.
    run = Run()
    heard_unsurely(run)
    run.meaning_of = IntentResult(intent=meaning.HUMAN, confidence=0.8)
    out = run.send(UserSaid(text="this is getting ridiculous"))
    assert isinstance(out[-1], Escalate)
    assert run.records("handler")[-1]["handler"] == "human_request"


def test_a_reply_the_classifier_finds_nothing_in_is_unclear() -> None:
    run = Run()
    heard_unsurely(run)
    out = run.send(UserSaid(text="the weather is nice today"))
    assert said(out)[0].startswith("Please say yes or no.")
    assert run.state.readback is not None and run.state.readback.asked == 2


def test_a_checkpoint_taken_mid_confirmation_resumes() -> None:
    run = Run()
    heard_unsurely(run)
    restored = RunnerState.model_validate_json(run.state.model_dump_json())
    assert restored == run.state and restored.readback is not None
    state, actions = run.runner.step(restored, UserSaid(text="yes"))
    assert state.slots == {"order_number": "482913"}
    assert any(isinstance(a, RecordEvent) and a.event == "slot_set" for a in actions)


def test_a_take_over_mid_confirmation_drops_it_and_the_hand_back_asks_again() -> None:
    from callcenter.flow.events import EscalationResult

    run = Run()
    heard_unsurely(run)
    run.send(TakenOver(supervisor="ana"))
    out = run.send(EscalationResult(outcome="handed_back"))
    assert said(out) == ["Please say your six digit order number."]
    assert run.state.readback is None


@pytest.mark.parametrize(("extra", "message"), [
    ("    confirm_below: 1.5\n", "less than or equal to 1"),
    ("    confirm_below: -0.1\n", "greater than or equal to 0"),
    ("    confirm_below: high\n", "number"),
    ("    readback: Is that right?\n", "readback never says the answer it confirms"),
    ("    readback: I heard {{valeu}}.\n", "unknown slot 'valeu'"),
])
def test_bad_readback_settings_are_reported_clearly(extra: str, message: str) -> None:
    flow, problems = check_flow_text(flow_text(extra), "orders.yaml")
    assert flow is None
    text = "\n".join(p.format() for p in problems)
    assert message in text, text
    assert "ask_order" in text or "orders.yaml:" in text
