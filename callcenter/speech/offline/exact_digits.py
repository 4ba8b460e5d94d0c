"""A missed number heard again at exactly the length the flow asked for.

Whisper drops a repeated digit ("one five three eight eight four" read "1, 5, 3, 8, 4") or
the last one of a group, and the flow, asking for six digits, has to ask the caller again.
When such a turn is heard again (`callsession.second_hearing`: the flow did not understand
it, so it is a whole turn, not one group of a number said in groups), the same audio is
decoded with only the digit vocabulary allowed and a beam of hypotheses kept; the best one
that spells exactly the asked number of digits is that model's reading. The model places
the missing digit where the audio has room for it. Both tiers' models read it, and only a
number they agree on is offered to the flow: on the 33 digit turns of `callcenter bench
quality`'s tuning parts that were still asked again, tiny.en's beam alone got 8 right and
2 wrong, the two tiers in turn 12 right and 5 wrong, the two agreeing 6 right and none
wrong. A wrong number is read back (the second hearing's confidence is 0.3), but a caller
who has to say "no" and then the number again is worse off than one asked again at once.

Speech that is no number at all decodes, forced, to runs like "000000" or "121212": a
reading whose digits repeat one short unit is not taken, nor one that fits the audio
worse than `ExactDigitsRule.min_logprob`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from callcenter.speech.offline.constrain import Constrained, max_tokens, suppressed_tokens

_WORD_DIGITS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3",
                "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_REPEATS = {"double": 2, "triple": 3}
_TOKEN = re.compile(r"\d+|[a-z]+")


@dataclass(frozen=True, slots=True)
class ExactDigitsRule:
    """When an exact-length reading is taken (calibrated on the bench's tuning parts: right
    readings fit at -0.38 to -1.04, forced readings of speech that was no number at -0.5 to
    -1.9, most of those periodic)."""

    min_logprob: float = -1.0
    beam_size: int = 8


def digit_string(text: str) -> str:
    """The digits a constrained reading spells: numerals, digit words, "oh", and "double" or
    "triple" before a digit ("Nine four, seven, double six, one." is 947661)."""
    out: list[str] = []
    repeat = 1
    for token in _TOKEN.findall(text.lower()):
        if token in _REPEATS:
            repeat = _REPEATS[token]
            continue
        digits = token if token.isdigit() else _WORD_DIGITS.get(token, "")
        if digits:
            out.append(digits[0] * repeat + digits[1:])
        repeat = 1
    return "".join(out)


def periodic(digits: str) -> bool:
    """True if `digits` is one short unit said again and again ("000000", "101010",
    "510510"): what a forced decode of speech that holds no number comes out as."""
    n = len(digits)
    return n > 1 and any(n % unit == 0 and digits == digits[:unit] * (n // unit)
                         for unit in range(1, n // 2 + 1))


def exact_digits_decode(model: Any, audio: Any, digits: int,
                        rule: ExactDigitsRule = ExactDigitsRule()) -> Constrained | None:
    """Blocking: the best of a beam of digit-only readings of `audio` (16 kHz float32) that
    spells exactly `digits` digits and is not periodic; None if no hypothesis does or it
    fits worse than `rule.min_logprob`.

    It goes below faster-whisper's `transcribe` (which returns only the best hypothesis) to
    CTranslate2's `generate`, with faster-whisper's own features, encoder (the short window,
    whose output is kept from the turn's first decode) and prompt.
    """
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                          task="transcribe", language="en")
    prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
    encoded = model.encode(pad_or_trim(model.feature_extractor(audio)))
    result = model.model.generate(
        encoded, [prompt], beam_size=rule.beam_size, num_hypotheses=rule.beam_size,
        return_scores=True, suppress_blank=True,
        suppress_tokens=suppressed_tokens(model, "digits"),
        max_length=len(prompt) + max_tokens("digits", digits))[0]
    for ids, score in zip(result.sequences_ids, result.scores, strict=False):
        text = tokenizer.decode(ids).strip()
        spelled = digit_string(text)
        if len(spelled) == digits and not periodic(spelled):
            # Hypotheses come best first: the first that fits is the reading, if it fits well.
            return Constrained(text, float(score), 0.0) if score >= rule.min_logprob else None
    return None
