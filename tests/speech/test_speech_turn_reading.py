"""A turn of several utterances read as one (`speech/stt/utterance.py`, issue #14).

A caller reading a number in groups pauses about a second between them; each group gets
its own FINAL (the endpointing judges those), and when the session says the turn goes on
the stream keeps the groups' audio so `decode_turn` can read them as one utterance: the
groups joined, each pause cut to `TURN_PAUSE_MS` of the line's own audio.
"""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.speech.errors import SpeechError
from callcenter.speech.stt.base import Transcript, TranscriptKind
from callcenter.speech.stt.expect import Expectation
from callcenter.speech.stt.utterance import TURN_PAUSE_MS, UtteranceSTTStream, join_segments

RATE = 16000
FRAME = 320  # 20 ms
NOISE = 60  # line noise level: quiet, but not zeros


def noise(ms: float, seed: int = 1) -> PCM16:
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, int(ms * RATE / 1000)) * NOISE).astype(np.int16)


def words(ms: float, seed: int = 2) -> PCM16:
    t = np.arange(int(ms * RATE / 1000)) / RATE
    rng = np.random.default_rng(seed)
    tone = 6000 * np.sin(2 * np.pi * 220 * t) + rng.uniform(-1, 1, len(t)) * NOISE
    return tone.astype(np.int16)


def segment(lead_ms: float, speech_ms: float, tail_ms: float, seed: int) -> PCM16:
    return np.concatenate([noise(lead_ms, seed), words(speech_ms, seed), noise(tail_ms, seed + 9)])


def loud_runs(samples: PCM16) -> list[tuple[int, int]]:
    """(start, end) sample index of each stretch of the 220 Hz tone."""
    loud = np.abs(samples) > 1000
    # A sine crosses zero twice a period: bridge gaps shorter than a period.
    idx = np.flatnonzero(loud)
    runs: list[tuple[int, int]] = []
    for i in idx:
        if runs and i - runs[-1][1] < RATE // 200:
            runs[-1] = (runs[-1][0], int(i) + 1)
        else:
            runs.append((int(i), int(i) + 1))
    return runs


# ------------------------------------------------------------------ join_segments


def test_each_pause_is_cut_to_the_turn_pause_of_its_own_audio() -> None:
    # What the VAD hands over: 300 ms pre-roll, the group, ~350 ms of quiet after it.
    groups = [segment(300, 700, 350, 1), segment(300, 800, 350, 2), segment(300, 600, 400, 3)]
    joined = join_segments(groups, RATE)
    runs = loud_runs(joined)
    assert len(runs) == 3  # every group is there, in order
    assert runs[0][1] - runs[0][0] == pytest.approx(700 * RATE / 1000, abs=RATE // 100)
    pauses_ms = [1000 * (b[0] - a[1]) / RATE for a, b in itertools.pairwise(runs)]
    # ~0.65 s of quiet at each seam became the turn pause (10 ms blocks: within 20 ms).
    assert pauses_ms == [pytest.approx(TURN_PAUSE_MS, abs=20)] * 2
    # The first's lead-in and the last's tail are untouched.
    assert 1000 * runs[0][0] / RATE == pytest.approx(300, abs=20)
    assert 1000 * (len(joined) - runs[-1][1]) / RATE == pytest.approx(400, abs=20)


def test_the_pause_keeps_the_line_sound_rather_than_silence() -> None:
    joined = join_segments([segment(300, 700, 350, 1), segment(300, 700, 350, 2)], RATE)
    first, second = loud_runs(joined)
    gap = joined[first[1] + 10 : second[0] - 10]
    assert len(gap) > 0.3 * RATE
    assert float(np.abs(gap).mean()) > NOISE / 4  # the noise of the line, not zeros
    # Nothing of the line's quiet is repeated or made up: every sample is one of theirs.
    assert len(joined) < 2 * len(segment(300, 700, 350, 1))


def test_a_seam_with_less_quiet_than_the_pause_keeps_all_of_it() -> None:
    a, b = segment(0, 500, 100, 1), segment(100, 500, 0, 2)
    joined = join_segments([a, b], RATE)
    assert len(joined) == len(a) + len(b)


def test_one_side_short_of_quiet_gets_its_share_from_the_other() -> None:
    # 50 ms after the first group, 600 ms before the second: 350 ms kept in all.
    joined = join_segments([segment(0, 500, 50, 1), segment(600, 500, 0, 2)], RATE)
    first, second = loud_runs(joined)
    assert 1000 * (second[0] - first[1]) / RATE == pytest.approx(TURN_PAUSE_MS, abs=20)


def test_noisy_quiet_is_still_found_against_the_segments_own_levels() -> None:
    # Line noise at ~10 dB under the speech: "quiet" is relative, not an absolute level.
    rng = np.random.default_rng(5)

    def noisy(speech_ms: float, seed: int) -> PCM16:
        s = segment(300, speech_ms, 350, seed).astype(np.float64)
        return (s + rng.normal(0, 1300, len(s))).astype(np.int16)

    groups = [noisy(700, 1), noisy(700, 2)]
    joined = join_segments(groups, RATE)
    cut_ms = 1000 * (sum(len(g) for g in groups) - len(joined)) / RATE
    assert cut_ms == pytest.approx(650 - TURN_PAUSE_MS, abs=40)


# ------------------------------------------------------------------ the stream


class Decoder:
    """A decode that keeps what it was given and says how long it was."""

    def __init__(self) -> None:
        self.calls: list[tuple[PCM16, float, Expectation | None]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def __call__(self, samples: PCM16, start: float,
                       exp: Expectation | None) -> Transcript:
        self.calls.append((samples, start, exp))
        await self.gate.wait()
        if self.fail:
            raise SpeechError("t", "boom")
        return Transcript(TranscriptKind.FINAL, f"{len(samples)} samples", start,
                          start + 1000.0 * len(samples) / RATE)


def say(stream: UtteranceSTTStream, samples: PCM16, t0: float) -> float:
    """Push `samples` as 20 ms frames from media time `t0`, then the VAD's end of speech."""
    for i in range(0, len(samples) - FRAME + 1, FRAME):
        stream.push_frame(AudioFrame(samples[i : i + FRAME], RATE, t0 + 1000.0 * i / RATE))
    stream.end_of_speech()
    return t0 + 1000.0 * (len(samples) // FRAME * FRAME) / RATE


async def finals(stream: UtteranceSTTStream, n: int) -> list[Transcript]:
    it = stream.__aiter__()
    return [await asyncio.wait_for(anext(it), 5) for _ in range(n)]


GROUPS = [segment(300, 700, 340, 1), segment(300, 800, 340, 2), segment(300, 600, 400, 3)]


async def test_a_turn_that_went_on_is_read_once_as_the_groups_joined() -> None:
    decode = Decoder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=None)
    expect = Expectation.of(digits=6)
    stream.expect(expect)
    t = say(stream, GROUPS[0], 0.0)
    stream.continue_turn()  # the session: this speech belongs to the same turn
    t = say(stream, GROUPS[1], t + 1000.0)
    stream.continue_turn()
    end = say(stream, GROUPS[2], t + 1000.0)
    assert len(await finals(stream, 3)) == 3  # one FINAL per group, as before
    reading = await stream.decode_turn()
    await stream.aclose()
    assert reading is not None
    assert len(decode.calls) == 4  # one extra decode for the whole turn
    samples, start, exp = decode.calls[-1]
    cut = [s[: len(s) // FRAME * FRAME] for s in GROUPS]  # what went in as whole frames
    np.testing.assert_array_equal(samples, join_segments(cut, RATE))
    assert (start, exp) == (0.0, expect)
    assert reading.text == f"{len(samples)} samples"
    # The turn's span, not the shortened audio's.
    assert (reading.start_ms, reading.end_ms) == (0.0, end)
    assert stream.turn_decodes == 1


async def test_without_continue_turn_each_utterance_is_its_own_turn() -> None:
    decode = Decoder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=None)
    t = say(stream, GROUPS[0], 0.0)
    say(stream, GROUPS[1], t + 1000.0)  # nobody said it goes on: a new turn
    await finals(stream, 2)
    assert await stream.decode_turn() is None  # one segment: nothing to read again
    await stream.aclose()
    assert len(decode.calls) == 2


async def test_a_committed_turn_is_forgotten() -> None:
    decode = Decoder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=None)
    t = say(stream, GROUPS[0], 0.0)
    stream.continue_turn()
    say(stream, GROUPS[1], t + 1000.0)
    await finals(stream, 2)
    stream.end_turn()
    assert await stream.decode_turn() is None
    await stream.aclose()


async def test_a_reading_given_up_before_it_ran_costs_no_decode() -> None:
    decode = Decoder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=None)
    t = say(stream, GROUPS[0], 0.0)
    stream.continue_turn()
    say(stream, GROUPS[1], t + 1000.0)
    decode.gate.clear()  # the second group's decode is still running
    reading = asyncio.get_running_loop().create_task(stream.decode_turn())
    for _ in range(5):
        await asyncio.sleep(0)
    reading.cancel()  # the caller went on: the session gives the reading up
    decode.gate.set()
    await finals(stream, 2)
    for _ in range(5):
        await asyncio.sleep(0)
    await stream.aclose()
    assert len(decode.calls) == 2  # the queued reading never reached the engine


async def test_a_failed_reading_is_none_and_the_finals_stand() -> None:
    decode = Decoder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=None)
    t = say(stream, GROUPS[0], 0.0)
    stream.continue_turn()
    say(stream, GROUPS[1], t + 1000.0)
    await finals(stream, 2)
    decode.fail = True
    assert await stream.decode_turn() is None
    await stream.aclose()


async def test_a_turn_longer_than_the_engine_window_is_not_read_as_one() -> None:
    decode = Decoder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=None, max_speech_ms=2500)
    t = say(stream, GROUPS[0], 0.0)
    stream.continue_turn()
    say(stream, GROUPS[1], t + 1000.0)  # 1.34 + 1.44 s: past 2.5 s
    await finals(stream, 2)
    assert await stream.decode_turn() is None
    await stream.aclose()
