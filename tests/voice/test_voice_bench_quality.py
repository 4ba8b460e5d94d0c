"""bench quality's labelled set: the held-out parts are new in words, voices and noise,
natural voices speak through Flite and Festival, and every part's report says what it is
for (tuning or held out) and splits natural from eSpeak voices."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.bench.quality import BaselineError, Outcome, export_code, summarize
from callcenter.bench.quality_audio import Transcriber
from callcenter.bench.quality_items import SNRS, SPLITS, Item, load_items
from callcenter.bench.quality_report import quality_table
from callcenter.bench.quality_voices import (
    ALL_VOICES,
    FRESH_VOICES,
    HELDOUT_VOICES,
    TUNE_NATURAL_VOICES,
    TUNE_VOICES,
    V3_SNRS,
    V3_VOICES,
    V4_HARD_VOICES,
    V4_VOICES,
    V5_HARD_VOICES,
    V5_VOICES,
    Synth,
    Voice,
    voice_named,
)


def test_held_out_v3_has_its_own_lines_voices_and_noise() -> None:
    items, _ = load_items()
    v3 = [i for i in items if i.split == "v3"]
    rest = [i for i in items if i.split != "v3"]
    assert len(v3) >= 60
    assert {i.category for i in v3} == {i.category for i in rest}
    assert not {i.text.lower() for i in v3} & {i.text.lower() for i in rest}
    v3_voices = {v.name for v in V3_VOICES}
    assert {i.voice for i in v3} == v3_voices
    assert not v3_voices & {v.name for v in (*TUNE_VOICES, *HELDOUT_VOICES, *FRESH_VOICES,
                                              *TUNE_NATURAL_VOICES, *V4_VOICES,
                                              *V4_HARD_VOICES, *V5_VOICES, *V5_HARD_VOICES)}
    assert not {i.voice for i in rest} & v3_voices
    noisy = {i.snr_db for i in v3} - {None}
    assert noisy == set(V3_SNRS) - {None} and not noisy & set(SNRS)
    assert len({i.seed for i in items}) == len(items)  # every line's audio is its own


@pytest.mark.parametrize(("part", "voices", "hard_voices"), [
    ("v4", V4_VOICES, V4_HARD_VOICES), ("v5", V5_VOICES, V5_HARD_VOICES)])
def test_a_later_held_out_part_is_new_in_words_and_voices_and_covers_every_category(
        part: str, voices: tuple[Voice, ...], hard_voices: tuple[Voice, ...]) -> None:
    items, _ = load_items()
    v4 = [i for i in items if i.split == part]
    hard = [i for i in items if i.split == f"{part}_hard"]
    rest = [i for i in items if i.split not in (part, f"{part}_hard")]
    assert len(v4) >= 98
    assert {i.category for i in v4} == {i.category for i in rest}
    assert not {i.text.lower() for i in v4} & {i.text.lower() for i in rest}
    assert {i.text for i in hard} <= {i.text for i in v4} and len(hard) >= len(v4) // 2
    assert {i.voice for i in v4} == {v.name for v in voices}
    assert {i.voice for i in hard} == {v.name for v in hard_voices}
    assert not ({i.voice for i in v4} | {i.voice for i in hard}) & {i.voice for i in rest}
    assert {voice_named(i.voice).family for i in v4} == {"natural"}
    assert {voice_named(i.voice).family for i in hard} == {"hard"}
    assert {i.snr_db for i in v4} == {None, 20.0, 10.0}
    assert any("|" in i.text for i in v4 if i.category == "digits")  # pauses in numbers


def test_voice_names_are_unique_and_an_unknown_one_names_the_choices() -> None:
    assert len({v.name for v in ALL_VOICES}) == len(ALL_VOICES)
    with pytest.raises(ValueError, match="flite-slt"):
        voice_named("no-such-voice")


def test_the_older_voices_keep_their_cache_keys() -> None:
    # The audio cache is keyed on repr(voice): pitch must not appear in the older voices'.
    assert repr(TUNE_VOICES[0]) == (
        "Voice(name='piper-1.0', engine='piper', voice='', speed=1.0)")


@pytest.mark.parametrize("name", [v.name for v in (*V4_VOICES, *V4_HARD_VOICES,
                                                   *V5_VOICES, *V5_HARD_VOICES,
                                                   *TUNE_NATURAL_VOICES)])
def test_every_new_voice_speaks(name: str) -> None:
    # An eSpeak variant missing from its data ('en-gb+m2') once failed the bench mid-run.
    samples = Synth().speak(voice_named(name), "my order number is four five six")
    assert samples.dtype.name == "int16"
    seconds = len(samples) / 16000
    assert 0.8 < seconds < 6.0 and int(abs(samples.astype(int)).max()) > 1000


def test_transcripts_of_another_recognizer_model_get_their_own_cache_keys(
        tmp_path: Path) -> None:
    import dataclasses

    import numpy as np

    stt = Transcriber(tmp_path)
    chunk = np.zeros(1600, np.int16)
    tiny = {stt.key(chunk), stt.key(chunk, "digits")}
    stt.stt.options = dataclasses.replace(stt.stt.options, model="base")
    # The path without an expectation (the baseline's) changes with the model too.
    assert not {stt.key(chunk), stt.key(chunk, "digits")} & tiny
    assert len(tiny) == 2


def test_each_part_of_the_report_says_whether_it_was_tuned_on() -> None:
    outs = [Outcome(Item("yes_no", "yes", True, split != "tuned", voice, None, n, split),
                    got=True, turns=1)
            for n, split in enumerate(SPLITS) for voice in ("flite-slt", "espeak-f4-165")]
    outs[-1].got = False  # the last part's eSpeak line is wrong
    report = summarize(outs)
    assert [report[s]["role"].split()[0] for s in SPLITS] == [
        "tuning", "tuning", "tuning", "tuning", "held-out", "held-out", "held-out",
        "held-out", "held-out"]
    assert report["v3"]["categories"]["yes_no"]["accuracy_pct"] == 100.0
    last = report["v5_hard"]
    assert last["overall_pct"] == 50.0
    assert last["families"]["natural"]["overall_pct"] == 100.0
    assert last["families"]["hard"]["overall_pct"] == 0.0
    assert last["voices_overall_pct"] == {"flite-slt": 100.0, "espeak-f4-165": 0.0}
    result = report | {"lines": len(outs), "code": "x"}
    table = quality_table(result)
    assert [c.header for c in table.columns][-2:] == ["v5 hard voices %", "cut-offs"]
    assert "hard voices" in list(table.columns[0].cells)


def test_the_baseline_code_is_exported_from_the_checkout_or_refused_with_the_fix(
        tmp_path: Path) -> None:
    export_code("HEAD", tmp_path)  # from any working directory (the pathspec once failed)
    assert (tmp_path / "callcenter" / "bench" / "quality.py").is_file()
    with pytest.raises(BaselineError, match="--baseline none"):
        export_code("no-such-commit-0000", tmp_path / "x")
