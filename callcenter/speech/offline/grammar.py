"""Constrained offline STT: pocketsphinx with a JSGF grammar of digits, yes/no and menu phrases.

Open-vocabulary pocketsphinx is unusable on phone audio, but restricted to a small grammar
it is fast (tens of ms per utterance) and accurate for what IVR turns need: account
numbers, confirmations, menu choices. It always answers with something in the grammar,
so use it where the flow expects one of those answers.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from callcenter.audio.frame import PCM16
from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.executor import BoundedExecutor
from callcenter.speech.stt.base import STT, Transcript, TranscriptKind
from callcenter.speech.stt.expect import Expectation
from callcenter.speech.stt.utterance import UtteranceSTTStream
from callcenter.speech.types import Word

DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
YES = ("yes", "yeah", "yep", "correct", "right", "sure", "uh-huh", "mhm")
NO = ("no", "nope")
# Sounds that answer nothing: with them in the grammar a hesitation is heard as one, not
# forced into the nearest "yes" or "no" ("uh huh" and "mm hmm" were both read "no").
HESITATIONS = ("uh", "um", "hmm", "mm")
_FRAME_MS = 10.0  # pocketsphinx features are 100 frames per second
_PHRASE = re.compile(r"^[a-z' ]+$")

_local = threading.local()


def _decoder() -> Any:
    """This thread's decoder (pocketsphinx decoders are not thread-safe)."""
    dec = getattr(_local, "decoder", None)
    if dec is None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise SpeechError(
                "grammar",
                "pocketsphinx is not installed: pip install 'callcenter[local]'",
                retryable=False,
            ) from exc
        # bestpath=False: the lattice rescoring pass can return a path that stops short of
        # the grammar's end state ("check my order" for "check my order status").
        dec = Decoder(lm=None, samprate=16000, bestpath=False, loglevel="FATAL")
        _local.decoder, _local.searches, _local.active = dec, set(), None
    return dec


@functools.cache
def dictionary_words() -> frozenset[str]:
    """Words the bundled pronunciation dictionary knows (read once)."""
    import pocketsphinx

    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    with path.open(encoding="utf-8") as f:
        return frozenset(line.split(" ", 1)[0] for line in f if line.strip())


def build_jsgf(phrases: Sequence[str], *, digits: bool = True, yes_no: bool = True) -> str:
    """The JSGF grammar text for these menu phrases plus digit strings and yes/no."""
    rules, alternatives = [], []
    if digits:
        rules.append(f"<digit> = {' | '.join(DIGITS)};")
        rules.append("<digits> = <digit>+;")
        alternatives.append("<digits>")
    if yes_no:
        rules.append(f"<yesno> = {' | '.join(YES + NO + HESITATIONS)};")
        alternatives.append("<yesno>")
    if phrases:
        rules.append(f"<menu> = {' | '.join(phrases)};")
        alternatives.append("<menu>")
    if not alternatives:
        raise ValueError("an empty grammar recognizes nothing: enable digits, yes/no or phrases")
    head = [
        "#JSGF V1.0;",
        "grammar callcenter;",
        f"public <utterance> = {' | '.join(alternatives)};",
    ]
    return "\n".join(head + rules) + "\n"


def normalize_phrase(phrase: str) -> str:
    """Lower-case a menu phrase and check that the grammar can hold it."""
    norm = " ".join(phrase.lower().replace("-", " ").split())
    norm = re.sub(r"[.,!?;:]", "", norm)
    if not norm or not _PHRASE.match(norm):
        raise ValueError(
            f"menu phrase {phrase!r} must be words only (letters, spaces, apostrophes); "
            "spell out numbers (e.g. 'option two')"
        )
    return norm


class GrammarSTT(STT):
    """pocketsphinx STT restricted to digits, yes/no and `phrases` (plus per-stream keywords).

    The FINAL's `text` is the meaning in canonical form: a digit string ("482913"), "yes"
    or "no", or the menu phrase; `words` keep what was recognized, with times.
    """

    name = "grammar"
    sample_rate = 16000

    def __init__(
        self,
        phrases: Sequence[str] = (),
        *,
        digits: bool = True,
        yes_no: bool = True,
        executor: BoundedExecutor | None = None,
    ) -> None:
        self.phrases = tuple(normalize_phrase(p) for p in phrases)
        self.digits = digits
        self.yes_no = yes_no
        self._executor = executor or BoundedExecutor("grammar", workers=1, max_pending=64)

    def stream(self, *, language: str = "en", keywords: Sequence[str] = ()) -> UtteranceSTTStream:
        if not language.lower().startswith("en"):
            raise SpeechError(self.name, f"the grammar STT model is English only, not {language!r}")
        phrases = tuple(dict.fromkeys(self.phrases + tuple(normalize_phrase(k) for k in keywords)))
        jsgf = build_jsgf(phrases, digits=self.digits, yes_no=self.yes_no)
        self._check_words(phrases)
        return UtteranceSTTStream(
            self.name, self.sample_rate, functools.partial(self._run, jsgf), min_speech_ms=100.0,
            # No early decoding: a grammar decode is ~45 ms, so it would gain little, and on
            # early snapshots pocketsphinx returned "0" for "no" in about 4 runs of 5.
            early_after_ms=None,
        )

    def _check_words(self, phrases: Sequence[str]) -> None:
        known = dictionary_words()
        unknown = sorted({w for p in phrases for w in p.split() if w not in known})
        if unknown:
            raise ValueError(
                f"words not in the pocketsphinx dictionary: {', '.join(unknown)}; "
                "rephrase the menu option with common English words"
            )

    async def _run(self, jsgf: str, samples: PCM16, start_ms: float,
                   expect: Expectation | None = None) -> Transcript:
        # The grammar is fixed per stream; what the flow expects changes nothing here.
        return await self._executor.run(lambda: self.decode(jsgf, samples, start_ms))

    def decode(self, jsgf: str, samples: PCM16, start_ms: float) -> Transcript:
        """Blocking: decode one 16 kHz utterance against the grammar (run in the executor)."""
        return decode(jsgf, samples, start_ms)

    async def aclose(self) -> None:
        self._executor.shutdown()


def decode(jsgf: str, samples: PCM16, start_ms: float) -> Transcript:
    """Blocking: decode one 16 kHz utterance against `jsgf` on this thread's decoder."""
    dec = _decoder()
    name = "g" + hashlib.sha1(jsgf.encode()).hexdigest()[:16]
    if name not in _local.searches:
        dec.add_jsgf_string(name, jsgf)
        _local.searches.add(name)
    # Tracked here: current_search() crashes pocketsphinx 5 before any search is active.
    if _local.active != name:
        dec.activate_search(name)
        _local.active = name
    dec.start_utt()
    dec.process_raw(samples.astype("<i2").tobytes(), full_utt=True)
    dec.end_utt()
    words = [
        Word(
            re.sub(r"\(\d+\)$", "", seg.word),  # "two(2)" = alternate pronunciation
            start_ms + seg.start_frame * _FRAME_MS,
            start_ms + (seg.end_frame + 1) * _FRAME_MS,
            float(seg.prob),
        )
        for seg in dec.seg() or ()  # None when no path reached the grammar's end
        if not seg.word.startswith(("<", "[", "("))  # <s>, <sil>, [NOISE], (NULL)
    ]
    end_ms = start_ms + 1000.0 * len(samples) / GrammarSTT.sample_rate
    confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
    return Transcript(
        TranscriptKind.FINAL,
        canonical_text([w.text for w in words]),
        start_ms,
        end_ms,
        words,
        confidence=confidence,
        produced_at=time.monotonic(),
    )


def canonical_text(words: Sequence[str]) -> str:
    """Recognized grammar words -> meaning: digit string, "yes"/"no", or the phrase."""
    if words and all(w in DIGITS for w in words):
        return "".join(DIGITS[w] for w in words)
    if len(words) == 1 and words[0] in YES:
        return "yes"
    if len(words) == 1 and words[0] in NO:
        return "no"
    return " ".join(words)
