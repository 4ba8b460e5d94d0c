"""At a question, an answer that only resembles a person request is asked again once.

"Maybe talk of it." (a misheard "maybe Saturday") scored 0.51 for a person at a date ask
and escalated a caller who was answering. Below HUMAN_SURE, with no person word in it, such
an answer escalates only when the caller says it twice at the same question.
"""

from __future__ import annotations

from callcenter.flow import meaning
from callcenter.flow.actions import Action, Escalate, Listen
from callcenter.flow.events import DtmfReceived, IntentResult, UserSaid
from tests.flow.flowcall import Call

NEAR = IntentResult(intent=meaning.HUMAN, confidence=0.5, other=0.2)


def _at_order_number() -> Call:
    call = Call("customer_support")
    call.start()
    call.send(DtmfReceived(digits="1"))
    assert call.state.node == "ask_order_number"
    call.classify = False
    return call


def _escalated(out: list[Action]) -> bool:
    return any(isinstance(a, Escalate) for a in out)


def test_a_near_person_answer_is_asked_again_and_the_second_escalates() -> None:
    call = _at_order_number()
    call.send(UserSaid(text="could somebody look at it"))
    again = call.send(NEAR)
    assert not _escalated(again) and isinstance(again[-1], Listen)
    assert call.state.node == "ask_order_number"
    assert call.records("near_human")[-1]["node"] == "ask_order_number"
    call.send(UserSaid(text="somebody who can look at it"))
    assert _escalated(call.send(NEAR))


def test_a_sure_person_request_escalates_at_once() -> None:
    call = _at_order_number()
    call.send(UserSaid(text="could somebody help me with it"))
    assert _escalated(call.send(IntentResult(intent=meaning.HUMAN, confidence=meaning.HUMAN_SURE,
                                             other=0.2)))


def test_an_ordinary_answer_between_two_near_ones_starts_the_count_again() -> None:
    call = _at_order_number()
    call.send(UserSaid(text="could somebody look at it"))
    call.send(NEAR)
    assert call.state.near_human_node == "ask_order_number"
    call.send(UserSaid(text="I don't have it with me right now"))
    assert not _escalated(call.send(IntentResult(intent=meaning.OTHER, confidence=0.6)))
    # Asked twice already: a third miss would take the node's failure route (a person).
    assert call.state.near_human_node is None and call.state.node == "ask_order_number"


def test_a_near_person_answer_at_the_menu_is_not_held_back() -> None:
    """The menu's answers are options, not values: there the margin rule alone decides
    (bench quality's person lines are said at the menu)."""
    call = Call("customer_support")
    call.start()
    call.classify = False
    call.send(UserSaid(text="could somebody look at it"))
    assert _escalated(call.send(NEAR))
