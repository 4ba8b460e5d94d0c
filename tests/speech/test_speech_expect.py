"""What the flow expects reaches the recognizer: prompt, hotwords, the grammar's second opinion."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from offline_speech_audio import espeak_phone, frames_of, needs_espeak_cli, with_silence, words

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.speech.stt.base import Transcript, TranscriptKind
from callcenter.speech.stt.expect import Expectation, collapse_loops, is_loop, second_opinion
from callcenter.speech.stt.utterance import UtteranceSTTStream

DIGITS = Expectation(digits=6)
YES_NO = Expectation(yes_no=True)


def test_nothing_expected_is_none_and_leaves_whisper_alone() -> None:
    assert Expectation.of() is None
    assert Expectation.of(phrases=["  "]) is None
    exp = Expectation.of(digits=6, phrases=["billing", "billing", "order"])
    assert exp == Expectation(6, False, ("billing", "order"))


def test_the_prompt_reads_like_the_expected_answer() -> None:
    assert DIGITS.prompt() == ""  # a prompt of digits made tiny.en drop some
    assert "December" in Expectation(kind="date").prompt()
    assert Expectation.of(kind="text") is None  # no prompt of its own: nothing expected
    assert YES_NO.prompt().startswith("Yes. No.")
    menu = Expectation(phrases=("order status", "billing")).prompt()
    assert menu == "order status, billing."


@pytest.mark.parametrize(("heard", "grammar", "want"), [
    ("A nine.", "89", "8 9"),              # "eight" heard as "A"
    ("Six, seven.", "67", "Six, seven."),  # Whisper already has both digits
    ("482913", "482913", "482913"),
    ("I don't know it", "482", "I don't know it"),  # a sentence, not a misheard digit
    ("", "48", "4 8"),                      # Whisper heard nothing
    ("I want a manager", "1180982", "I want a manager"),  # the grammar always answers
    ("No.", "0", "No."),
])
def test_digits_the_grammar_wins_only_where_whisper_misheard(heard: str, grammar: str,
                                                             want: str) -> None:
    assert second_opinion(heard, grammar, 0.9, DIGITS) == want


@pytest.mark.parametrize(("heard", "grammar", "want"), [
    ("Now.", "no", "no"),
    ("Nobe", "no", "no"),
    ("Yeah.", "no", "Yeah."),            # Whisper's yes/no word stands
    ("I want a manager", "no", "I want a manager"),  # a sentence is never replaced
    ("not really", "yes", "not really"),
    ("Uh-huh.", "no", "Uh-huh."),        # a yes in Whisper's words the grammar cannot take
    ("Sounds good.", "no", "Sounds good."),
])
def test_yes_no_the_grammar_wins_only_for_a_short_answer_without_one(
        heard: str, grammar: str, want: str) -> None:
    assert second_opinion(heard, grammar, 0.9, YES_NO) == want


@pytest.mark.parametrize(("heard", "loop", "once"), [
    ("No. No. No. No. No. No. No.", True, "No."),
    ("A person please. please. please. please.", True, "A person please."),
    ("no no", False, "no no"),           # a caller's "no no" is an answer
    ("It is what it is.", False, "It is what it is."),
    ("7, 7, 7.", False, "7, 7, 7."),
])
def test_a_repetition_loop_is_seen_and_said_once(heard: str, loop: bool, once: str) -> None:
    assert is_loop(heard) is loop
    assert collapse_loops(heard) == once


def test_an_unsure_grammar_or_an_open_question_changes_nothing() -> None:
    assert second_opinion("A nine.", "89", 0.1, DIGITS, min_confidence=0.5) == "A nine."
    assert second_opinion("Now.", "no", 0.9, Expectation(phrases=("billing",))) == "Now."


async def test_each_utterance_is_decoded_with_the_expectation_it_ended_under() -> None:
    seen: list[Expectation | None] = []

    async def decode(samples: PCM16, start: float, exp: Expectation | None) -> Transcript:
        seen.append(exp)
        return Transcript(TranscriptKind.FINAL, "x", start)

    stream = UtteranceSTTStream("t", 16000, decode, min_speech_ms=0)
    frame = AudioFrame(np.zeros(320, np.int16), 16000, 0.0)
    stream.expect(DIGITS)
    stream.push_frame(frame)
    stream.end_of_speech()
    stream.expect(None)  # changed after the utterance ended: it keeps the digits
    stream.push_frame(frame)
    stream.end_of_speech()
    it = stream.__aiter__()
    for _ in range(2):
        await asyncio.wait_for(anext(it), 5)
    await stream.aclose()
    assert seen == [DIGITS, None]


@needs_espeak_cli
async def test_whisper_told_what_to_expect_hears_phone_digits_and_a_no() -> None:
    # The real engines: Whisper prompted with the expectation, the grammar's check after.
    from callcenter.flow.spoken_digits import spoken_digits
    from callcenter.speech.offline.whisper import WhisperSTT

    stt = WhisperSTT()
    stream = stt.stream()
    # Piper for the digits: greedy tiny.en on eSpeak digits read 5 of 6 in ~40 % of runs
    # (the early decode's cut point varies with timing), which the quality bench measures.
    from callcenter.audio.phone import phone_channel
    from callcenter.speech.offline.piper import PiperOptions, PiperTTS

    piper = PiperTTS(16000, PiperOptions(deterministic=True))

    def spoken(text: str) -> AudioFrame:
        if text == "no":
            return espeak_phone(text)
        clip = AudioFrame(piper.synthesize_clause(text).samples, 16000)
        return phone_channel(clip, output_rate=16000)

    said = [("four eight two nine one three", DIGITS), ("no", YES_NO)]
    for text, exp in said:
        stream.expect(exp)
        for f in frames_of(with_silence(spoken(text))):
            stream.push_frame(f)
        stream.end_of_speech()
    it = stream.__aiter__()
    digits, answer = [(await asyncio.wait_for(anext(it), 60)).text for _ in said]
    await stream.aclose()
    await stt.aclose()
    assert spoken_digits(digits, min_length=6, max_length=6) == "482913"
    assert words(answer)[:1] == ["no"]



class _LoopingModel:
    """Stands in for tiny.en's decoder where it loops: only when it is given a prompt."""

    def __init__(self, plain: str) -> None:
        self.plain = plain
        self.prompts: list[str | None] = []

    def transcribe(self, audio: object, **kw: object) -> tuple[list[object], None]:
        from types import SimpleNamespace

        prompt = kw.get("initial_prompt")
        self.prompts.append(prompt if isinstance(prompt, str) else None)
        text = " No." * 40 if prompt else self.plain
        return [SimpleNamespace(text=text, avg_logprob=-0.2, words=[])], None


@pytest.mark.parametrize(("plain", "want"), [
    (" That's it.", "That's it."),         # the plain decode stands
    (" No. No. No. No. No.", "No."),       # it loops too: said once
])
def test_a_prompted_decode_that_loops_is_decoded_again_without_the_prompt(
        monkeypatch: pytest.MonkeyPatch, plain: str, want: str) -> None:
    from callcenter.speech.offline import whisper
    from callcenter.speech.offline.whisper import WhisperOptions, WhisperSTT

    model = _LoopingModel(plain)
    monkeypatch.setattr(whisper, "load_whisper_model", lambda name="tiny.en": model)
    stt = WhisperSTT(WhisperOptions(second_opinion=False, constrained=False))
    got = stt.transcribe(np.zeros(8000, np.int16), 0.0, expect=YES_NO)
    assert got.text == want
    # A plain decode that loops too is tried once more in Whisper's full window.
    assert model.prompts == [YES_NO.prompt(), None] + ([None] if want != plain.strip() else [])
    # Without a prompt a repeat is not collapsed: "one one one one" can be an order number.
    model.prompts.clear()
    assert stt.transcribe(np.zeros(8000, np.int16), 0.0).text == plain.strip()
    assert model.prompts == [None] + ([None] if want != plain.strip() else [])
