"""Whisper in two tiers: tiny.en hears every utterance, base hears again what was missed.

tiny.en is fast enough for every turn of many calls (~80-100 ms an utterance with the
short encoder window) but mishears phone callers a larger model reads right ("one for
reason." for "I want a refund"). base costs about twice as much, so it is asked only for
a turn the flow did not understand (`callsession.second_hearing`): a caller who would
otherwise be asked to repeat. On the tuning parts of `callcenter bench quality`, taking
base's reading where tiny.en's was not understood took 102 to 111 lines right of 147.

Both models are shared by every call of the process, and both run in the first tier's
bounded executor: CTranslate2 already uses every core for one decode, so a second pool
would only make the two tiers wait on each other's threads.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import replace

from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.executor import BoundedExecutor
from callcenter.speech.offline.whisper import WhisperOptions, WhisperSTT
from callcenter.speech.offline.whisper_models import check_model_name
from callcenter.speech.stt.utterance import UtteranceSTTStream

log = logging.getLogger(__name__)


class TieredWhisperSTT(WhisperSTT):
    """`WhisperSTT` whose streams can hear a turn again with a second model."""

    def __init__(
        self,
        options: WhisperOptions | None = None,
        *,
        second_model: str = "base",
        executor: BoundedExecutor | None = None,
    ) -> None:
        super().__init__(options, executor=executor)
        check_model_name(second_model)
        # The second tier reads openly: the menu's constrained decode (its thresholds set on
        # tiny.en) made base read noise as "I'm a person." and so escalate calls no caller
        # asked to (bench quality, tuning parts: 5 of 7 false escalations). It hears whole
        # turns, so a number of the wrong length is read again at the asked length by both
        # models; only a number they agree on is offered (`offline.exact_digits`).
        self.second = WhisperSTT(
            replace(self.options, model=second_model, constrained_menu=False,
                    exact_digits_models=(self.options.model, second_model)),
            executor=self._executor)
        self._second_ok = True

    def warm_up(self) -> None:
        super().warm_up()
        try:
            self.second.warm_up()
        except SpeechError as exc:
            # The second tier is an extra (pip install 'callcenter[whisper-base]'): without
            # it a missed turn is asked again, as with one tier.
            self._second_ok = False
            log.warning("no second hearing: %s", exc)

    def stream(self, *, language: str = "en",
               keywords: Sequence[str] = ()) -> UtteranceSTTStream:
        stream = super().stream(language=language, keywords=keywords)
        if self._second_ok:
            stream.second_decode = functools.partial(self.second.run, keywords=tuple(keywords))
        return stream
