"""What the agent says reads like a person: dates, times, phone and order numbers, money."""

from __future__ import annotations

import pytest

from callcenter.flow.templates import render

SCOPE = {"today": "2026-11-24", "day": "2026-12-01", "next_year": "2027-01-10", "at": "13:00",
         "half": "16:30", "noon": "12:00", "phone": "5551234567", "order": "482913",
         "amount": "$30.50", "count": 4}


@pytest.mark.parametrize(("template", "heard"), [
    ("{{day}}", "Tuesday, December first"),
    ("{{next_year}}", "Sunday, January tenth, 2027"),
    ("{{at}}", "1 PM"), ("{{half}}", "4:30 PM"), ("{{noon}}", "noon"),
    ("{{phone}}", "five five five, one two three, four five six seven"),
    ("{{order}}", "four eight two nine one three"),
    ("{{amount}}", "30 dollars and 50 cents"), ("It costs $1,200.", "It costs 1200 dollars."),
    ("{{count}} items", "4 items"),
])
def test_spoken_text_reads_values_as_a_person_would(template: str, heard: str) -> None:
    assert render(template, SCOPE, spoken=True) == heard


def test_text_that_is_sent_keeps_the_raw_values() -> None:
    assert render("{{day}} {{at}} {{phone}}", SCOPE) == "2026-12-01 13:00 5551234567"
