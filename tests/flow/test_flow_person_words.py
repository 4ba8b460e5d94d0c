"""A word that only asks for a person reaches one from any node, not via the classifier."""

from __future__ import annotations

from pathlib import Path

from callcenter.flow.actions import ClassifyIntent, Escalate, Listen
from callcenter.flow.events import DtmfReceived, UserSaid
from tests.flow.flowcall import Call


def _handler_fired(call: Call) -> bool:
    return any(r["handler"] == "human_request" for r in call.records("handler"))


def test_a_person_word_at_an_ask_fires_the_handler_without_the_classifier() -> None:
    call = Call("customer_support")
    call.start()
    asked = call.send(DtmfReceived(digits="1"))
    assert isinstance(asked[-1], Listen) and asked[-1].slot == "order_number"
    call.classify = False  # a ClassifyIntent would be left unanswered: none may be asked
    out = call.send(UserSaid(text="I don't have it, let me talk to your supervisor"))
    assert not any(isinstance(a, ClassifyIntent) for a in call.log)
    assert isinstance(out[-1], Escalate) and _handler_fired(call)


def test_the_menus_own_option_for_a_person_is_taken_instead() -> None:
    call = Call("customer_support")
    call.start()
    out = call.send(UserSaid(text="person"))  # the menu's key-0 option: goto to_human
    assert isinstance(out[-1], Escalate)
    assert not _handler_fired(call)
    assert call.records("slot_set")[-1]["value"] == "person"


def test_a_person_word_at_the_menu_without_an_option_for_it_fires_the_handler() -> None:
    call = Call("customer_support")
    call.start()
    out = call.send(UserSaid(text="no more menus, get me a manager"))
    assert isinstance(out[-1], Escalate) and _handler_fired(call)


def test_words_that_contain_a_person_word_are_not_a_request() -> None:
    call = Call("customer_support")
    call.start()
    call.send(DtmfReceived(digits="1"))
    out = call.send(UserSaid(text="it's one two three four five six, personal order"))
    assert not _handler_fired(call)
    assert not isinstance(out[-1], Escalate)


def test_asking_to_speak_to_anyone_fires_the_handler_even_when_who_is_misheard() -> None:
    # Whisper's reading of "I need to speak with a live agent" in an eSpeak voice.
    call = Call("customer_support")
    call.start()
    call.classify = False  # found by its words: no classifier needed
    out = call.send(UserSaid(text="I need to speak a like version."))
    assert isinstance(out[-1], Escalate) and _handler_fired(call)


def test_talking_about_a_topic_or_to_the_agent_itself_is_no_person_request() -> None:
    from callcenter.flow import meaning, values

    for text in ("I want to talk about my bill", "can I talk to you about my order",
                 "do you speak Spanish", "I no longer want this to speak",
                 "I need to talk to my wife first", "let me talk it over with him"):
        assert not meaning.asks_to_speak(values.words(text)), text
    for text in ("I'd like to speak to an agent", "let me talk with someone",
                 "can I talk to somebody", "I wanna speak to a human"):
        assert meaning.asks_to_speak(values.words(text)), text


def test_a_menu_option_that_asks_to_speak_is_taken_instead(tmp_path: Path) -> None:
    (tmp_path / "sales.yaml").write_text("""
name: sales
start: menu
handlers:
  human_request:
    goto: bye
nodes:
  menu:
    type: menu
    prompt: Say talk to sales, or support.
    slot: choice
    options:
      - {key: "1", phrases: [talk to sales], value: sales, goto: bye}
      - {key: "2", phrases: [support], value: support, goto: bye}
  bye:
    type: hangup
    say: Goodbye.
""")
    call = Call("sales", flows=tmp_path)
    call.start()
    call.send(UserSaid(text="I want to talk to sales"))
    assert not _handler_fired(call)
    assert call.records("slot_set")[-1]["value"] == "sales"
