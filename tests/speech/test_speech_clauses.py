"""The one clause splitter: what the voice session and the offline TTS stream cut text into."""

from __future__ import annotations

from callcenter.speech.tts.clauses import ClauseSplitter


def _feed(sp: ClauseSplitter, text: str) -> list[str]:
    out: list[str] = []
    for tok in text.split(" "):
        out += sp.push(tok + " ")
    return out + sp.flush()


def test_first_clause_is_released_early_and_later_ones_at_sentence_ends() -> None:
    out = _feed(ClauseSplitter(),
                "Sure, I can help with that, let me look. Your order shipped on 3.5 days ago.")
    assert out[0] == "Sure, I can help with that,"
    assert out[1] == "let me look."
    assert out[2] == "Your order shipped on 3.5 days ago."


def test_long_clauses_without_punctuation_are_cut() -> None:
    sp = ClauseSplitter(max_words=5)
    out = sp.push("one two three four five six seven ")
    assert out == ["one two three four five"]
    assert sp.flush() == ["six seven"]


def test_eager_splitter_cuts_at_every_punctuation_followed_by_space() -> None:
    sp = ClauseSplitter(first_min_words=1, min_words=1)
    assert sp.push("Hello, world. It costs 1,000.50 dollars; ok") == [
        "Hello,", "world.", "It costs 1,000.50 dollars;",
    ]
    assert sp.flush() == ["ok"]
    assert ClauseSplitter(first_min_words=1, min_words=1).push("no boundary yet") == []


def test_a_line_break_ends_a_clause() -> None:
    sp = ClauseSplitter(first_min_words=1, min_words=1)
    assert sp.push("Welcome to Acme\nPress one for sales\n") == [
        "Welcome to Acme", "Press one for sales",
    ]


def test_closing_quotes_stay_with_their_clause() -> None:
    sp = ClauseSplitter(first_min_words=1, min_words=1)
    assert sp.push('He said "yes." Then ') == ['He said "yes."']
