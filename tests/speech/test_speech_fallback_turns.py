"""A fallback STT passes a turn's calls to the stream in use (the offline one keeps turns)."""

from __future__ import annotations

from collections.abc import Sequence

from callcenter.speech.stt.base import STT
from callcenter.speech.stt.expect import Expectation
from callcenter.speech.stt.fallback import FallbackSTT
from callcenter.speech.stt.utterance import UtteranceSTTStream
from tests.speech.test_speech_turn_reading import GROUPS, RATE, Decoder, say


class Offline(STT):
    name = "offline"
    sample_rate = RATE

    def __init__(self) -> None:
        self.decode, self.second = Decoder(), Decoder()

    def stream(self, *, language: str = "en",
               keywords: Sequence[str] = ()) -> UtteranceSTTStream:
        s = UtteranceSTTStream("offline", RATE, self.decode, early_after_ms=None)
        s.second_decode = self.second
        return s


async def test_turn_reading_and_second_hearing_reach_the_offline_stream() -> None:
    offline = Offline()
    stream = FallbackSTT([offline]).stream()
    stream.expect(Expectation.of(digits=6))
    t = say(stream, GROUPS[0], 0.0)  # type: ignore[arg-type]
    stream.continue_turn()
    say(stream, GROUPS[1], t + 1000.0)  # type: ignore[arg-type]
    it = stream.__aiter__()
    for _ in range(2):
        await anext(it)
    assert await stream.decode_turn() is not None  # the groups read as one
    stream.end_turn()
    assert await stream.hear_again() is not None  # and the committed turn heard again
    assert len(offline.second.calls) == 1
    await stream.aclose()
