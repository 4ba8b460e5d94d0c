"""The transcript shows the reading the call acted on for a turn heard again."""

from __future__ import annotations

from callcenter.models import CallEvent, SpeakerRole
from callcenter.postcall.heard_again import apply_heard_again
from callcenter.postcall.transcript import TranscriptLine


def line(seq: int, who: str, at: int, text: str) -> TranscriptLine:
    return TranscriptLine(seq=seq, speaker=who, identity=who, start_ms=at, end_ms=at + 900,
                          text=text)


def event(seq: int, at: int, first: str, second: str) -> CallEvent:
    return CallEvent(call_id="c", seq=seq, type="heard_again", offset_ms=at,
                     data={"first": first, "second": second})


def test_the_caller_line_heard_again_gets_the_reading_taken() -> None:
    lines = [line(1, SpeakerRole.AGENT, 0, "Say billing or cancel."),
             line(2, SpeakerRole.CALLER, 3000, "one for reason."),
             line(4, SpeakerRole.AGENT, 5000, "Billing. Your order number?"),
             line(5, SpeakerRole.CALLER, 9000, "one for reason.")]
    out = apply_heard_again(lines, [event(3, 4200, "one for reason.", "I want a refund")])
    assert [x.text for x in out] == ["Say billing or cancel.", "I want a refund",
                                     "Billing. Your order number?", "one for reason."]
    assert lines[1].text == "one for reason."  # the input is not changed


def test_agent_lines_and_unrelated_events_are_left_alone() -> None:
    lines = [line(1, SpeakerRole.AGENT, 0, "one for reason."),
             line(2, SpeakerRole.CALLER, 3000, "billing")]
    events = [event(3, 4000, "one for reason.", "refund"),
              CallEvent(call_id="c", seq=4, type="no_match", offset_ms=4100, data={})]
    assert [x.text for x in apply_heard_again(lines, events)] == ["one for reason.", "billing"]
