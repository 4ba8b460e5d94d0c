"""Turn-taking decides on the audio it has heard, not on the clock alone (issue #10).

A stalled event loop (a long garbage collection, a loaded host) or a late network burst
delivers a stretch of the caller's audio late, all at once. The endpointing timer keeps
running on the clock meanwhile, so it can expire before the audio behind it is heard: the
caller's short pause was committed as the end of their turn although they had already gone
on speaking, the turn was cut in two and the agent answered the first half. In the voice
bench this made 1-8 of 67 calls hang: the reply to the first half was cut off by the
second half within 400 ms of the next reply, and the caller heard the two as one.

These tests hold the caller's frames back for a while right after the VAD reports the end
of the first half (frames pile up in the room and then arrive in one burst, as after a
stall), on a virtual clock so the timing is exact.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from callcenter.audio.frame import AudioFrame
from callcenter.audio.vad import F32, LiteScorer, VADEvent, VADStream
from callcenter.rooms.clock import Clock
from callcenter.rooms.local import LocalRoom
from callcenter.voice import VoiceSettings
from callcenter.voice.listener import ParticipantListener

MakeCall = Callable[..., Any]


class StallingRoom(LocalRoom):
    """A local room whose audio to the agent stops for `stall_s` once `stall()` is called:
    the frames of that time are queued in the room and then delivered in one burst."""

    def __init__(self, clock: Clock, stall_s: float) -> None:
        super().__init__(clock=clock, output_rate=16000)
        self.stall_s = stall_s
        self.stalls = 0
        self._pending = False

    def stall(self) -> None:
        self._pending = True

    def audio_stream(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        return self._stalling(super().audio_stream(identity, sample_rate))

    async def _stalling(self, frames: AsyncIterator[AudioFrame]) -> AsyncIterator[AudioFrame]:
        async for frame in frames:
            if self._pending:
                self._pending = False
                self.stalls += 1
                await self.clock.sleep(self.stall_s)
            yield frame


def _stall_after_first_speech_end(call: Any, room: StallingRoom) -> None:
    """Stall the room's audio right after the VAD's first speech end (the caller's pause)."""
    session = call.session
    on_speech_end = session.on_speech_end

    def hooked(listener: ParticipantListener, ev: VADEvent) -> None:
        on_speech_end(listener, ev)
        if not room.stalls:
            room.stall()

    session.on_speech_end = hooked


PAUSED_SENTENCE = """
turns:
  - say: "check my order"
  - wait: 0.15
  - say: "thank you"
  - wait: agent_done
"""


async def _turns_with_stall(make_call: MakeCall, vclock: Clock, stall_s: float) -> list[str]:
    room = StallingRoom(vclock, stall_s)
    call = make_call(settings=VoiceSettings(input_rate=8000), room=room)
    _stall_after_first_speech_end(call, room)
    await call.session.start()
    call.answer()
    await call.play(PAUSED_SENTENCE)
    assert room.stalls == 1
    return [u.text for u in call.utterances if u.role == "caller"]


async def test_a_pause_shorter_than_the_endpointing_delay_is_one_turn(
        make_call: MakeCall, vclock: Clock) -> None:
    # Without a stall: the ~0.2 s pause is inside the 0.4 s endpointing delay.
    assert await _turns_with_stall(make_call, vclock, 0.0) == ["check my order thank you"]


async def test_audio_that_arrives_late_after_a_stall_still_continues_the_turn(
        make_call: MakeCall, vclock: Clock) -> None:
    # 0.3 s without frames right after the pause was detected: the clock passes the
    # endpointing deadline before the rest of the sentence is heard.
    assert await _turns_with_stall(make_call, vclock, 0.3) == ["check my order thank you"]


async def test_a_stream_that_stops_sending_still_ends_the_turn(
        make_call: MakeCall, vclock: Clock) -> None:
    # Frames that do not come at all (a stream that went quiet) are not waited for forever:
    # the turn ends on the clock, a bounded while later than the endpointing delay.
    room = StallingRoom(vclock, 5.0)
    call = make_call(settings=VoiceSettings(input_rate=8000), room=room)
    _stall_after_first_speech_end(call, room)
    await call.session.start()
    call.answer()
    await call.play("""
turns:
  - say: "check my order"
  - wait: agent_done
""")
    [turn] = call.session.metrics
    assert [u.text for u in call.utterances if u.role == "caller"] == ["check my order"]
    delay = VoiceSettings().endpointing.min_delay
    assert 1000 * delay <= turn.end_of_utterance_delay_ms < 1000 * (delay + 1.0)


class LaggingScorer:
    """Silero per stream, but each window's score is delivered `lag` windows late, as from
    a batch scorer whose worker thread gets too little CPU on a loaded host."""

    def __init__(self, sample_rate: int, lag: int) -> None:
        self._rate = sample_rate
        self._lag = lag
        self._lite: dict[int, LiteScorer] = {}
        self._late: dict[int, deque[tuple[float, float]]] = {}

    def score(self, stream: VADStream, window: F32, end_ms: float, gated: bool) -> None:
        lite = self._lite.setdefault(id(stream), LiteScorer(self._rate))
        got: list[float] = []
        probe = _Probe(got.append)
        lite.score(probe, window, end_ms, gated)  # type: ignore[arg-type]
        late = self._late.setdefault(id(stream), deque())
        late.append((got[0], end_ms))
        if len(late) > self._lag:
            p, at = late.popleft()
            stream.on_probability(p, at)

    def release(self, stream: VADStream) -> None:
        self._lite.pop(id(stream), None)
        self._late.pop(id(stream), None)


class _Probe:
    def __init__(self, sink: Callable[[float], None]) -> None:
        self._sink = sink

    def on_probability(self, p: float, _end_ms: float) -> None:
        self._sink(p)


async def test_the_stt_hears_the_words_from_their_onset_when_the_vad_trails_the_audio(
        make_call: MakeCall) -> None:
    # The VAD decides 0.8 s behind the audio: when it reports speech, the onset is long
    # past, and the STT must still get the audio from there (the pre-roll ring), or the
    # first words are lost (and a short answer becomes an empty, dropped turn).
    call = make_call(settings=VoiceSettings(input_rate=8000))
    call.session._scorer = LaggingScorer(8000, lag=25)  # 25 windows of 32 ms
    await call.session.start()
    call.answer()
    await call.play("""
turns:
  - say: "check my order"
  - wait: agent_done
""")
    assert [u.text for u in call.utterances if u.role == "caller"] == ["check my order"]
