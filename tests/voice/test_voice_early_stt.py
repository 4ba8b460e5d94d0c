"""Early decoding in the buffer-then-decode STT stream (`speech/stt/utterance.py`).

The stream decodes the speech so far once the audio has gone quiet, before the VAD calls
the end of speech. These tests pin what is published: the early result when the caller
said nothing more, a fresh decode of the whole utterance when they went on.
"""

from __future__ import annotations

import asyncio

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.speech.stt.base import Transcript, TranscriptKind
from callcenter.speech.stt.expect import Expectation
from callcenter.speech.stt.utterance import UtteranceSTTStream

RATE = 16000
FRAME = 320  # 20 ms
# An early decode gets the words and its 80 ms of quiet padded with silence to 300 ms.
PAD = (300 - 80) * RATE // 1000


class Recorder:
    """A decode that names how much audio it was given, and can be held mid-decode."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, Expectation | None]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, samples: PCM16, start: float,
                       exp: Expectation | None) -> Transcript:
        self.calls.append((len(samples), exp))
        await self.gate.wait()
        return Transcript(TranscriptKind.FINAL, f"{len(samples)} samples", start)


def frames(n: int, *, loud: bool, t0: float) -> list[AudioFrame]:
    level = 8000 if loud else 20
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        samples = (rng.uniform(-1, 1, FRAME) * level).astype(np.int16)
        out.append(AudioFrame(samples, RATE, t0 + 20.0 * i))
    return out


def push(stream: UtteranceSTTStream, fs: list[AudioFrame]) -> float:
    for f in fs:
        stream.push_frame(f)
    return fs[-1].end_ms


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_early_decode_is_the_final_when_no_more_speech_came() -> None:
    decode = Recorder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=80.0)
    t = push(stream, frames(25, loud=True, t0=0.0))  # 500 ms of words
    t = push(stream, frames(4, loud=False, t0=t))  # 80 ms quiet: decode now
    await settle()
    assert decode.calls == [(29 * FRAME + PAD, None)]  # before the VAD's end of speech
    push(stream, frames(5, loud=False, t0=t))  # the rest of the VAD's silence
    stream.end_of_speech()
    final = await asyncio.wait_for(anext(stream.__aiter__()), 5)
    await stream.aclose()
    assert final.text == f"{29 * FRAME + PAD} samples"
    assert len(decode.calls) == 1  # the end of speech cost no second model call
    assert (stream.early_used, stream.early_dropped) == (1, 0)


async def test_the_whole_utterance_is_decoded_again_when_the_caller_went_on() -> None:
    decode = Recorder()
    decode.gate.clear()  # the early decode is still running when the caller goes on
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=80.0)
    t = push(stream, frames(25, loud=True, t0=0.0))
    t = push(stream, frames(4, loud=False, t0=t))
    await settle()
    t = push(stream, frames(20, loud=True, t0=t))  # "... and my order number"
    stream.end_of_speech()  # no quiet since: the end decodes everything
    decode.gate.set()
    final = await asyncio.wait_for(anext(stream.__aiter__()), 5)
    await stream.aclose()
    assert final.text == f"{49 * FRAME} samples"  # every word, not the early part
    assert [n for n, _ in decode.calls] == [29 * FRAME + PAD, 49 * FRAME]
    assert (stream.early_used, stream.early_dropped) == (0, 1)


async def test_a_second_pause_gets_its_own_early_decode_of_everything_so_far() -> None:
    decode = Recorder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=80.0)
    t = push(stream, frames(25, loud=True, t0=0.0))
    t = push(stream, frames(4, loud=False, t0=t))
    t = push(stream, frames(10, loud=True, t0=t))
    t = push(stream, frames(4, loud=False, t0=t))
    stream.end_of_speech()
    it = stream.__aiter__()
    final = await asyncio.wait_for(anext(it), 5)
    await stream.aclose()
    assert final.text == f"{43 * FRAME + PAD} samples"
    # The first was dropped before the decoder got to it: it cost no model call.
    assert [n for n, _ in decode.calls] == [43 * FRAME + PAD]
    assert (stream.early_used, stream.early_dropped) == (1, 1)


async def test_an_early_decode_made_for_another_question_is_redone() -> None:
    decode = Recorder()
    digits = Expectation(digits=6)
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=80.0)
    t = push(stream, frames(25, loud=True, t0=0.0))
    push(stream, frames(4, loud=False, t0=t))
    await settle()  # the early decode is under way
    stream.expect(digits)  # the flow moved on before the utterance ended
    stream.end_of_speech()
    final = await asyncio.wait_for(anext(stream.__aiter__()), 5)
    await stream.aclose()
    assert [e for _, e in decode.calls] == [None, digits]
    assert final.text == f"{29 * FRAME} samples"
    assert stream.early_used == 0


async def test_quiet_before_the_words_starts_nothing_and_off_means_off() -> None:
    decode = Recorder()
    stream = UtteranceSTTStream("t", RATE, decode, early_after_ms=80.0)
    t = push(stream, frames(10, loud=False, t0=0.0))  # pre-roll: the words are still to come
    await settle()
    assert decode.calls == []
    off = UtteranceSTTStream("t", RATE, decode, early_after_ms=None)
    t = push(off, frames(25, loud=True, t0=t))
    push(off, frames(10, loud=False, t0=t))
    await settle()
    assert decode.calls == []  # only the end of speech decodes
    off.end_of_speech()
    await asyncio.wait_for(anext(off.__aiter__()), 5)
    await off.aclose()
    await stream.aclose()
    assert len(decode.calls) == 1
