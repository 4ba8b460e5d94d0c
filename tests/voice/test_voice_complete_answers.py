"""A complete answer ends the turn at once; an incomplete one keeps it open (endpointing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from callcenter.voice import EndpointingSettings, VoiceSettings, endpoint_delay
from callcenter.voice.endpointing import answer_complete, is_clear_yes_no

MakeCall = Callable[..., Any]
ENDPOINTING = EndpointingSettings(0.4, 2.5)


async def _turn_delay_ms(make_call: MakeCall, said: str, **expect: Any) -> float:
    call = make_call(settings=VoiceSettings(input_rate=8000, endpointing=ENDPOINTING))
    call.session.expected_digits = expect.get("digits")
    call.session.expect_yes_no = expect.get("yes_no", False)
    await call.session.start()
    call.answer()
    await call.play(f"""
turns:
  - say: "{said}"
  - wait: agent_done
""")
    [turn] = call.session.metrics
    delay: float = turn.end_of_utterance_delay_ms
    return delay


async def test_a_complete_six_digit_answer_commits_within_min_delay(
        make_call: MakeCall) -> None:
    delay = await _turn_delay_ms(make_call, "four eight two nine one three", digits=6)
    assert delay < 1000 * ENDPOINTING.min_delay


async def test_an_incomplete_digit_answer_waits_for_the_rest(make_call: MakeCall) -> None:
    delay = await _turn_delay_ms(make_call, "four eight two nine", digits=6)
    assert delay >= 1000 * ENDPOINTING.max_delay - 20


async def test_a_plain_yes_to_a_yes_no_question_commits_within_min_delay(
        make_call: MakeCall) -> None:
    assert await _turn_delay_ms(make_call, "yes", yes_no=True) < 1000 * ENDPOINTING.min_delay


@pytest.mark.parametrize("text", ["Yes.", "no thank you", "That's right.", "Nope"])
def test_clear_yes_no_answers(text: str) -> None:
    assert is_clear_yes_no(text)
    assert endpoint_delay(text, ENDPOINTING, yes_no=True) < ENDPOINTING.min_delay


@pytest.mark.parametrize("text", ["yes but only on weekends", "no I want", "yesterday"])
def test_a_sentence_that_starts_with_yes_is_not_a_clear_answer(text: str) -> None:
    assert not is_clear_yes_no(text)


def test_yes_without_a_yes_no_question_keeps_the_normal_delay() -> None:
    assert endpoint_delay("yes", ENDPOINTING) == ENDPOINTING.min_delay


def test_too_many_digits_or_a_trailing_word_is_not_complete() -> None:
    assert answer_complete("482913", expected_digits=6)
    assert answer_complete("it's four eight two nine one three", expected_digits=6)
    assert not answer_complete("four eight two nine one three seven", expected_digits=6)
    assert not answer_complete("four eight two nine one three and", expected_digits=6)
