"""bench quality's labelled set: the held-out v3 part is new in words, voices and noise,
and every part's report says what it is for (tuning or held out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.bench.quality import (
    SNRS,
    SPLITS,
    BaselineError,
    Item,
    Outcome,
    export_code,
    load_items,
    summarize,
)
from callcenter.bench.quality_audio import (
    FRESH_VOICES,
    HELDOUT_VOICES,
    TUNE_VOICES,
    V3_SNRS,
    V3_VOICES,
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
    assert not v3_voices & {v.name for v in (*TUNE_VOICES, *HELDOUT_VOICES, *FRESH_VOICES)}
    assert not {i.voice for i in rest} & v3_voices
    noisy = {i.snr_db for i in v3} - {None}
    assert noisy == set(V3_SNRS) - {None} and not noisy & set(SNRS)
    assert len({i.seed for i in items}) == len(items)  # every line's audio is its own


def test_each_part_of_the_report_says_whether_it_was_tuned_on() -> None:
    outs = [Outcome(Item("yes_no", "yes", True, split != "tuned", "v", None, n, split),
                    got=True, turns=1)
            for n, split in enumerate(SPLITS)]
    report = summarize(outs)
    assert [report[s]["role"].split()[0] for s in SPLITS] == [
        "tuning", "tuning", "tuning", "held-out"]
    assert report["v3"]["categories"]["yes_no"]["accuracy_pct"] == 100.0


def test_the_baseline_code_is_exported_from_the_checkout_or_refused_with_the_fix(
        tmp_path: Path) -> None:
    export_code("HEAD", tmp_path)  # from any working directory (the pathspec once failed)
    assert (tmp_path / "callcenter" / "bench" / "quality.py").is_file()
    with pytest.raises(BaselineError, match="--baseline none"):
        export_code("no-such-commit-0000", tmp_path / "x")
