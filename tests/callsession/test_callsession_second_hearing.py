"""A caller turn the flow does not understand is heard again before the caller is asked
to repeat it (`callsession.second_hearing`)."""

from __future__ import annotations

import httpx

from callcenter.callsession.effects import IntentService
from callcenter.callsession.interpreter import Effects
from callcenter.callsession.text_session import TextSession
from callcenter.flow.validate import load_flow

FLOW = """
name: second_hearing
start: menu
nodes:
  menu:
    type: menu
    prompt: Say billing or cancel.
    slot: topic
    options:
      - {key: 1, value: billing, goto: number, phrases: [billing, refund, invoice]}
      - {key: 2, value: cancel, goto: done, phrases: [cancel, close my account]}
  number:
    type: ask
    slot: order
    prompt: Your six digit order number?
    expect: digits
    min_length: 6
    max_length: 6
    next: done
  done: {type: hangup, say: Thanks.}
"""


class Ears:
    """A second recognizer that reads every turn as `readings` (best first) and counts its
    calls."""

    def __init__(self, *readings: str) -> None:
        self.readings, self.calls = list(readings), 0

    async def hear_again(self) -> list[str]:
        self.calls += 1
        return self.readings


async def _session(http: httpx.AsyncClient, ears: Ears | None) -> TextSession:
    session = TextSession(load_flow(FLOW, "<t>"),
                          Effects(http=http, intents=IntentService(prefer_minilm=False)))
    if ears is not None:
        session.interpreter.channel.hear_again = ears.hear_again  # type: ignore[attr-defined]
    await session.start()
    return session


async def test_a_missed_menu_answer_is_heard_again_and_taken() -> None:
    ears = Ears("I want a refund")
    async with httpx.AsyncClient() as http:
        session = await _session(http, ears)
        turn = await session.send("one for reason.")  # Whisper tiny.en's reading of it
        assert session.state.slots.get("topic") == "billing", turn.said
        assert ears.calls == 1
        assert ("heard_again", {"first": "one for reason.", "second": "I want a refund"}) in (
            turn.events)
        await session.aclose()


async def test_a_missed_number_is_heard_again_and_taken() -> None:
    ears = Ears("4 8 2 9 1 3")
    async with httpx.AsyncClient() as http:
        session = await _session(http, ears)
        await session.send("billing")
        assert ears.calls == 0  # understood the first time: never heard again
        turn = await session.send("for a tune nine one three")
        assert ears.calls == 1
        # A number only the second recognizer made sense of is read back before it is kept.
        assert "order" not in session.state.slots
        assert any(("482913" in said or "four eight two" in said) and "right" in said
                   for said in turn.said), turn.said
        await session.send("yes")
        assert session.state.slots.get("order") == "482913"
        await session.aclose()


async def test_the_first_reading_the_flow_understands_is_taken() -> None:
    # The second recognizer's own reading is tried first; a number read at the asked
    # length (`exact_digits`) is the next reading, taken only because the first one misses.
    ears = Ears("4 8 2 9 1", "4 8 2 9 1 3", "1 1 1 1 1 1")
    async with httpx.AsyncClient() as http:
        session = await _session(http, ears)
        await session.send("billing")
        turn = await session.send("for a tune nine one")
        assert ears.calls == 1
        assert ("heard_again", {"first": "for a tune nine one", "second": "4 8 2 9 1 3"}) in (
            turn.events)
        await session.send("yes")  # read back first: it was heard again
        assert session.state.slots.get("order") == "482913"
        await session.aclose()


async def test_a_reading_the_flow_understands_wins_over_the_ones_after_it() -> None:
    ears = Ears("4 8 2 9 1 3", "7 7 7 7 7 7")
    async with httpx.AsyncClient() as http:
        session = await _session(http, ears)
        await session.send("billing")
        await session.send("for a tune nine one three")
        await session.send("yes")
        assert session.state.slots.get("order") == "482913"
        await session.aclose()


async def test_an_understood_answer_is_never_heard_again() -> None:
    ears = Ears("cancel")
    async with httpx.AsyncClient() as http:
        session = await _session(http, ears)
        await session.send("billing please")
        assert session.state.slots.get("topic") == "billing"
        assert ears.calls == 0
        await session.aclose()


async def test_when_neither_reading_is_understood_the_caller_is_asked_again() -> None:
    ears = Ears("what's the weather")
    async with httpx.AsyncClient() as http:
        session = await _session(http, ears)
        turn = await session.send("one for reason.")
        assert "topic" not in session.state.slots
        assert ears.calls == 1
        assert "no_match" in turn.notes and "heard_again" not in turn.notes
        await session.aclose()


async def test_a_channel_without_a_second_recognizer_reprompts_as_before() -> None:
    async with httpx.AsyncClient() as http:
        session = await _session(http, None)
        turn = await session.send("one for reason.")
        assert "topic" not in session.state.slots and "no_match" in turn.notes
        await session.aclose()


async def test_a_channel_that_cannot_hear_again_is_not_asked_and_not_tried() -> None:
    ears = Ears("I want a refund")
    async with httpx.AsyncClient() as http:
        session = await _session(http, ears)
        session.interpreter.channel.can_hear_again = False  # type: ignore[attr-defined]
        turn = await session.send("one for reason.")
        assert "topic" not in session.state.slots and "no_match" in turn.notes
        assert ears.calls == 0
        await session.aclose()


async def test_a_second_hearing_that_fails_leaves_the_turn_as_heard() -> None:
    async def broken() -> list[str]:
        raise RuntimeError("the second model's executor is gone")

    async with httpx.AsyncClient() as http:
        session = await _session(http, None)
        session.interpreter.channel.hear_again = broken  # type: ignore[attr-defined]
        turn = await session.send("one for reason.")
        assert "topic" not in session.state.slots and "no_match" in turn.notes
        assert not session.ended  # the call goes on: the caller is asked again
        await session.aclose()
