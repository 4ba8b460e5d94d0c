"""PII redaction on realistic speech-to-text transcripts."""

from __future__ import annotations

import pytest

from callcenter.postcall.digits import find_runs, luhn_valid
from callcenter.postcall.redact import RedactionConfig, redact_lines, redact_text
from callcenter.postcall.transcript import TranscriptLine


def line(seq: int, speaker: str, text: str, **kw: object) -> TranscriptLine:
    return TranscriptLine(seq, speaker, speaker, seq * 3000, seq * 3000 + 2500, text, **kw)  # type: ignore[arg-type]


def test_luhn_accepts_real_test_cards_and_rejects_a_changed_digit() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("5500005555555559")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_spoken_digits_are_read_as_digits_including_double_and_oh() -> None:
    runs = find_runs("it's five five five, double two, oh one, uh nine eight seven")
    assert [r.digits for r in runs] == ["5552201987"]
    assert runs[0].spelled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My card is 4111 1111 1111 1111, expiry 09/27.", "My card is [CARD], expiry 09/27."),
        ("card number four one one one one one one one one one one one one one one one",
         "card number [CARD]"),
        ("You can reach me at john dot smith at gmail dot com thanks",
         "You can reach me at [EMAIL] thanks"),
        ("email is Jane.Doe+billing@example.co.uk.", "email is [EMAIL]."),
        ("call me back on (415) 555-0134 please", "call me back on [PHONE] please"),
        ("my number is four one five, five five five, zero one three four",
         "my number is [PHONE]"),
        ("my social is 078 05 1120", "my social is [SSN]"),
        ("SSN 078-05-1120.", "SSN [SSN]."),
        ("account number 77812345", "account number [NUMBER]"),
    ],
)  # fmt: skip
def test_single_utterances_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I was charged $1,250.00 twice",
        "that is about 15 percent more than last month",
        "I have one question and two accounts",
        "my order arrived on the 3rd at 10:30",
        "call me at four please",
    ],
)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_card_number_split_across_turns_is_redacted_in_every_piece() -> None:
    lines = [
        line(0, "agent", "Please read me the long number on the front of the card."),
        line(1, "caller", "Okay it's four one one one"),
        line(2, "agent", "Mm-hmm."),
        line(3, "caller", "one one one one... one one one one"),
        line(4, "agent", "Go on."),
        line(5, "caller", "and the last four are one one one one"),
        line(6, "caller", "expiry is oh nine twenty seven"),
    ]
    out = redact_lines(lines)
    assert out[1].text == "Okay it's [CARD]"
    assert out[3].text == "[CARD]"  # eight digits in one turn, then recognised as card
    assert out[5].text == "and the last four are [CARD]"
    assert out[1].redactions == ("card",)
    assert out[6].text == lines[6].text  # two digits then a word: not an identifier
    assert "one one" not in " ".join(x.text for x in out[:6])


def test_unrelated_short_numbers_in_nearby_turns_do_not_become_a_card() -> None:
    lines = [
        line(0, "caller", "I have 2 kids and 3 dogs"),
        line(1, "caller", "we moved in 2019"),
    ]
    assert [x.text for x in redact_lines(lines)] == [x.text for x in lines]


def test_interrupted_read_back_is_redacted_in_heard_text_too() -> None:
    lines = [
        line(
            0,
            "agent",
            "Let me confirm, 4111 1111 1111 1111, is that right?",
            heard_text="Let me confirm, 4111 11",
            interrupted=True,
        )
    ]
    out = redact_lines(lines)[0]
    assert out.text == "Let me confirm, [CARD], is that right?"
    assert out.heard_text == "Let me confirm, [CARD]"


def test_rules_can_be_switched_off() -> None:
    cfg = RedactionConfig(rules=frozenset({"email"}))
    text = "mail a@b.com or call 415 555 0134"
    assert redact_text(text, cfg) == "mail [EMAIL] or call 415 555 0134"
    with pytest.raises(ValueError, match="unknown redaction rule"):
        RedactionConfig(rules=frozenset({"passport"}))


def test_realistic_call_keeps_the_conversation_readable() -> None:
    lines = [
        line(0, "agent", "Thanks for calling Acme, how can I help?"),
        line(1, "caller", "Hi, I was double charged on my bill this month."),
        line(2, "agent", "Sorry about that. What's the phone number on the account?"),
        line(3, "caller", "It's six five oh, two two two, one nine eight seven."),
        line(4, "agent", "And for verification, the last four of your social?"),
        line(5, "caller", "one one two zero"),
        line(6, "agent", "Thank you. I've refunded the $42.50 charge."),
    ]
    out = [x.text for x in redact_lines(lines)]
    assert out[3] == "It's [PHONE]."
    assert out[5] == "one one two zero"  # last four alone is not an identifier
    assert out[6] == lines[6].text
    assert out[1] == lines[1].text


def test_agent_read_back_of_dates_times_menu_keys_and_references_is_not_a_card() -> None:
    lines = [
        line(0, "agent", "We have nine AM, one PM or four PM. You can also press 1, 2 or 3."),
        line(1, "agent", "I have Jane Doe on 2026-12-01 at 13:00, and we'll call 5551234567."),
        line(2, "caller", "Yes. Please book it."),
        line(3, "agent", "You're booked. Your confirmation number is BK-1042."),
    ]
    out = [x.text for x in redact_lines(lines)]
    assert "press 1, 2 or 3" in out[0]
    assert "on 2026-12-01 at 13:00" in out[1] and "5551234567" not in out[1]
    assert out[3].endswith("BK-1042.")
