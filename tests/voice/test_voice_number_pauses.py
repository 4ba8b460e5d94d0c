"""Endpointing keeps a number read in groups as one answer (issue #14).

Callers read order numbers in groups with a pause of about a second between them. With
the digit count the flow expects, the turn stays open until the number is complete; a
complete answer then ends the turn at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.voice import VoiceSettings

MakeCall = Callable[..., Any]


async def _caller_turns(make_call: MakeCall, script: str, digits: int | None) -> list[str]:
    call = make_call(settings=VoiceSettings(input_rate=8000))  # default endpointing
    call.session.expected_digits = digits
    await call.session.start()
    call.answer()
    await call.play(script)
    return [u.text for u in call.utterances if u.role == "caller"]


TWO_PAUSES = """
turns:
  - say: "four eight"
  - wait: 1.0
  - say: "two nine"
  - wait: 1.0
  - say: "one three"
  - wait: agent_done
"""


async def test_a_number_with_two_one_second_pauses_is_one_answer(make_call: MakeCall) -> None:
    turns = await _caller_turns(make_call, TWO_PAUSES, digits=6)
    assert turns == ["four eight two nine one three"]


async def test_the_complete_number_ends_the_turn_without_the_long_wait(
        make_call: MakeCall) -> None:
    call = make_call(settings=VoiceSettings(input_rate=8000))
    call.session.expected_digits = 6
    await call.session.start()
    call.answer()
    await call.play(TWO_PAUSES)
    [turn] = call.session.metrics
    # Held open while digits were missing, committed at once when the sixth arrived.
    assert turn.end_of_utterance_delay_ms < 1000 * VoiceSettings().endpointing.min_delay


async def test_groups_of_three_with_a_pause_join_even_without_a_length(
        make_call: MakeCall) -> None:
    turns = await _caller_turns(make_call, """
turns:
  - say: "my order number is four eight two"
  - wait: 1.0
  - say: "nine one three"
  - wait: agent_done
""", digits=None)
    assert turns == ["my order number is four eight two nine one three"]


async def test_a_pause_longer_than_the_bound_ends_the_turn(make_call: MakeCall) -> None:
    # Bounded: a caller who stops after four of six digits is not waited for forever.
    turns = await _caller_turns(make_call, """
turns:
  - say: "four eight two nine"
  - wait: 3.0
  - say: "sorry"
  - wait: agent_done
""", digits=6)
    assert turns == ["four eight two nine", "sorry"]


async def test_a_first_group_heard_as_words_still_waits_for_the_rest(
        make_call: MakeCall) -> None:
    # The recognizer wrote "two oh one" as words: no digits yet, the number is not done.
    turns = await _caller_turns(make_call, """
turns:
  - say: "you will want"
  - wait: 1.0
  - say: "seven seven three"
  - wait: agent_done
""", digits=6)
    assert turns == ["you will want seven seven three"]
