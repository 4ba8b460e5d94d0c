"""Caller sentiment gets polite closings and thanks right."""

from __future__ import annotations

import pytest

from callcenter.postcall.sentiment import score_text


@pytest.mark.parametrize("said", ["no, that's all, thanks", "No that's all thanks.",
                                  "no thank you", "no problem", "nope, that was helpful"])
def test_a_polite_no_is_not_negative(said: str) -> None:
    assert score_text(said) > 0


@pytest.mark.parametrize("said", ["this is not good", "this is useless",
                                  "I'm really frustrated", "that's ridiculous"])
def test_complaints_are_negative(said: str) -> None:
    assert score_text(said) < 0
