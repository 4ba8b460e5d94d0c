"""A committed turn heard again by a second recognizer (`UtteranceSTTStream.hear_again`,
`speech.offline.whisper_tiers`): for a turn the flow did not understand."""

from __future__ import annotations

import numpy as np

from callcenter.config import Settings
from callcenter.speech.factory import offline_stt
from callcenter.speech.offline.whisper import WhisperSTT
from callcenter.speech.offline.whisper_tiers import TieredWhisperSTT
from callcenter.speech.stt.expect import Expectation
from callcenter.speech.stt.utterance import UtteranceSTTStream, join_segments
from tests.speech.test_speech_turn_reading import FRAME, GROUPS, RATE, Decoder, finals, say


async def test_the_last_turn_is_heard_again_with_what_was_expected_of_it() -> None:
    first, second = Decoder(), Decoder()
    stream = UtteranceSTTStream("t", RATE, first, early_after_ms=None)
    stream.second_decode = second
    expect = Expectation.of(digits=6)
    stream.expect(expect)
    t = say(stream, GROUPS[0], 0.0)
    stream.continue_turn()
    end = say(stream, GROUPS[1], t + 1000.0)
    await finals(stream, 2)
    stream.end_turn()  # the session committed the turn ...
    stream.expect(None)  # ... and the listen is over before the flow asks again
    again = await stream.hear_again()
    await stream.aclose()
    assert again is not None and len(second.calls) == 1
    samples, start, exp = second.calls[0]
    cut = [s[: len(s) // FRAME * FRAME] for s in GROUPS[:2]]
    np.testing.assert_array_equal(samples, join_segments(cut, RATE))
    assert (start, exp) == (0.0, expect)
    assert (again.start_ms, again.end_ms) == (0.0, end)
    assert len(first.calls) == 2  # the first recognizer did only its own FINALs
    assert stream.hears_again


async def test_a_one_segment_turn_is_heard_again_as_it_was() -> None:
    second = Decoder()
    stream = UtteranceSTTStream("t", RATE, Decoder(), early_after_ms=None)
    stream.second_decode = second
    say(stream, GROUPS[0], 0.0)
    await finals(stream, 1)
    stream.end_turn()
    assert await stream.hear_again() is not None
    await stream.aclose()
    cut = GROUPS[0][: len(GROUPS[0]) // FRAME * FRAME]
    np.testing.assert_array_equal(second.calls[0][0], cut)


async def test_no_second_recognizer_or_a_failing_one_leaves_the_first_reading() -> None:
    stream = UtteranceSTTStream("t", RATE, Decoder(), early_after_ms=None)
    say(stream, GROUPS[0], 0.0)
    await finals(stream, 1)
    stream.end_turn()
    assert await stream.hear_again() is None  # none configured
    failing = Decoder()
    failing.fail = True
    stream.second_decode = failing
    assert await stream.hear_again() is None  # it failed: logged, the first stands
    assert len(failing.calls) == 1
    await stream.aclose()


def test_settings_choose_one_tier_or_two() -> None:
    two = offline_stt(Settings(local_stt_second_model="base"))
    assert isinstance(two, TieredWhisperSTT) and two.second.options.model == "base"
    assert two.options.constrained_menu and not two.second.options.constrained_menu
    assert two.options.model == "tiny.en"
    one = offline_stt(Settings(local_stt_second_model="none"))
    assert type(one) is WhisperSTT
    same = offline_stt(Settings(local_stt_model="base", local_stt_second_model="base"))
    assert type(same) is WhisperSTT  # a second hearing by the same model adds nothing
    stream = two.stream()
    assert isinstance(stream, UtteranceSTTStream) and stream.second_decode is not None
    assert one.stream().second_decode is None  # type: ignore[attr-defined]


async def test_the_voice_channel_hears_again_the_callers_turn_not_the_supervisors() -> None:
    from types import SimpleNamespace

    from callcenter.callsession.voice_channel import VoiceChannel
    from callcenter.speech.stt.base import Transcript, TranscriptKind

    class Stream:
        def __init__(self, text: str, hears_again: bool = True) -> None:
            self.text, self.hears_again = text, hears_again

        async def hear_again(self) -> Transcript:
            return Transcript(TranscriptKind.FINAL, f" {self.text} ", 0.0, 1.0,
                              alternatives=(" 4 8 2 9 1 3", " "))

    voice = SimpleNamespace(listeners={
        "supervisor-1": SimpleNamespace(stt=Stream("not this")),
        "caller": SimpleNamespace(stt=Stream("I want a refund")),
    })
    channel = VoiceChannel(voice, room=None, is_caller=lambda who: who == "caller")  # type: ignore[arg-type]
    assert channel.can_hear_again
    # The reading first, then the recognizer's other readings of the turn, blanks dropped.
    assert await channel.hear_again() == ["I want a refund", "4 8 2 9 1 3"]
    voice.listeners["caller"] = SimpleNamespace(stt=Stream("x", hears_again=False))
    assert not channel.can_hear_again  # the supervisor's stream does not count
    voice.listeners = {}
    assert not channel.can_hear_again
    assert await channel.hear_again() == []
