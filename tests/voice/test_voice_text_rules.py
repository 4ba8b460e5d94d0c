"""Endpointing rules."""

from __future__ import annotations

import pytest

from callcenter.voice import EndpointingSettings, endpoint_delay, looks_unfinished


@pytest.mark.parametrize(
    "text",
    ["my number is", "I want to order and", "it's four two", "um", "the code is",
     "card number", "I'd like to..."],
)
def test_unfinished_utterances_wait_for_more(text: str) -> None:
    assert looks_unfinished(text)
    assert endpoint_delay(text, EndpointingSettings(0.4, 2.0)) == 2.0


@pytest.mark.parametrize(
    "text", ["I want to check my order status", "yes", "the blue one", "4829 1234.", "no thanks"]
)
def test_finished_utterances_end_after_the_min_delay(text: str) -> None:
    assert not looks_unfinished(text)
    assert endpoint_delay(text, EndpointingSettings(0.4, 2.0)) == 0.4


def test_expected_digits_keep_the_turn_open_until_complete() -> None:
    assert looks_unfinished("four eight two nine", expected_digits=6)
    assert not looks_unfinished("four eight two nine one three", expected_digits=6)


def test_endpointing_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="min_delay <= max_delay"):
        EndpointingSettings(2.0, 1.0)
