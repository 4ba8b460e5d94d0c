"""The answer parsers take what callers actually say (recognizer text in, slot value out)."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.flow.values import keypad_word, spoken_date, spoken_digits, spoken_time, yes_no

TUESDAY = dt.date(2026, 11, 24)


@pytest.mark.parametrize(("said", "digits"), [
    ("my order number is four eight two nine one three", "482913"),
    ("four eight two, nine one three", "482913"),
    ("It's 482 913.", "482913"),
    ("4-8-2-9-1-3", "482913"),
    ("six oh three one four nine", "603149"),
    ("double seven three one two eight", "773128"),
    ("three triple five two one", "355521"),
    ("nine double oh four one two", "900412"),
    ("seven seventy", "770"),
    ("four hundred twelve", "412"),
    ("four eight two, no, four eight three nine one three", "483913"),
    ("three eight two nine, sorry, three eight two one nine four", "382194"),
    ("six two nine four, uh, zero eight", "629408"),
    ("4.8 to 9.1 free.", "482913"),  # tiny.en on eSpeak phone audio: "free" for three
    ("for a two nine one three.", "482913"),  # its "a" for an eight after a digit
    ("482 No. for a 391 tree.", "483913"),
    ("Heaven 3 2, no wait. Heaven 3 3 1 8 8.", "733188"),  # "heaven" for a first seven
])
def test_digits_are_found_in_what_callers_say(said: str, digits: str) -> None:
    assert spoken_digits(said, min_length=6, max_length=6 if len(digits) == 6 else None) == (
        digits)


def test_words_that_sound_like_digits_are_words_outside_a_number() -> None:
    assert spoken_digits("I want to talk to someone for help") is None
    assert spoken_digits("is the delivery free") is None
    assert spoken_digits("heaven knows") is None
    # "a" is an eight only between digits: the article before a number stays a word.
    assert spoken_digits("it's a four eight two nine one three", min_length=6) == "482913"
    assert spoken_digits("give me a second") is None


def test_a_restarted_number_keeps_the_part_that_fits_the_length() -> None:
    assert spoken_digits("four eight two | four eight two nine one three".replace("|", "."),
                         min_length=6, max_length=6) == "482913"


@pytest.mark.parametrize(("said", "key"), [
    ("two", "2"), ("press 3", "3"), ("option one please", "1"), ("I want to talk", None)])
def test_a_menu_key_said_alone(said: str, key: str | None) -> None:
    assert keypad_word(said) == key


@pytest.mark.parametrize(("said", "meaning"), [
    ("yep", True), ("Yeah.", True), ("that's right", True), ("Uh-huh.", True),
    ("you got it", True), ("yes, that's correct", True),
    ("nope", False), ("no, that's all, thanks", False), ("Nope, that's it.", False),
    ("That's not right.", False), ("I don't think so.", False), ("no I'm good", False),
    ("1", True), ("2", False), ("the blue one", None),
    # "uh-uh" is no only written as one word and said alone; "uh, uh" is a hesitation.
    ("Uh-uh.", False), ("Mm-mm.", False), ("Uh, uh.", None), ("uh uh, yes", True),
])
def test_yes_no_by_meaning(said: str, meaning: bool | None) -> None:
    assert yes_no(said) is meaning


@pytest.mark.parametrize(("said", "day"), [
    ("the day after tomorrow", "2026-11-26"), ("tomorrow please", "2026-11-25"),
    ("next Friday", "2026-11-27"), ("December the fifteenth", "2026-12-15"),
    ("the 5th of December", "2026-12-05"), ("December twenty first", "2026-12-21"),
    ("January 10th", "2027-01-10"), ("the eighth", "2026-12-08"),
    ("the twenty eighth of November", "2026-11-28"), ("12/3", "2026-12-03"),
])
def test_dates_as_people_say_them(said: str, day: str) -> None:
    parsed = spoken_date(said, TUESDAY)
    assert parsed is not None and parsed.isoformat() == day


@pytest.mark.parametrize(("said", "at"), [
    ("3 p.m.", "15:00"), ("ten thirty in the morning", "10:30"), ("10.30 in the morning", "10:30"),
    ("half past two in the afternoon", "14:30"), ("quarter to four", "15:45"),
    ("quarter past 10 a.m.", "10:15"), ("midday", "12:00"), ("noon", "12:00"),
    ("eight in the morning", "08:00"), ("three forty five pm", "15:45"), ("15:30", "15:30"),
    ("2 o'clock in the afternoon", "14:00"),
])
def test_times_as_people_say_them(said: str, at: str) -> None:
    assert spoken_time(said) == at


def test_three_thirty_written_as_one_number_is_a_time_of_day() -> None:
    # bench quality (tuning part): Whisper heard "How about 330 in the afternoon?".
    assert spoken_time("How about 330 in the afternoon?") == "15:30"
    assert spoken_time("1045 in the morning") == "10:45"
    assert spoken_time("order 330") is None  # no time of day: not a time


def test_next_weekday_that_is_tomorrow_means_the_week_after() -> None:
    # bench quality (tuning part): "next Wednesday", said on a Tuesday, is not tomorrow.
    assert spoken_date("next Wednesday.", TUESDAY) == dt.date(2026, 12, 2)
    assert spoken_date("Wednesday", TUESDAY) == dt.date(2026, 11, 25)
    assert spoken_date("next Friday", TUESDAY) == dt.date(2026, 11, 27)


def test_no_time_in_words_without_one() -> None:
    assert spoken_time("whenever suits you") is None
