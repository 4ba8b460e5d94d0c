"""The quality bench's labelled lines, each with the voice, noise and seed it is spoken in.

The set (`quality_set.yaml`) has parts; each part is spoken by voices of its own (see
`quality_voices`), so a held-out part is new in phrasing and in voice. Voice, noise and
seed follow from a line's position, so a run is repeatable and adding lines to one part
never changes another part's audio.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from callcenter.bench.quality_voices import (
    FRESH_VOICES,
    HARD,
    HELDOUT_VOICES,
    NATURAL,
    TUNE_NATURAL_VOICES,
    TUNE_VOICES,
    V3_SNRS,
    V3_VOICES,
    V4_HARD_VOICES,
    V4_VOICES,
    V5_HARD_VOICES,
    V5_VOICES,
    Voice,
)

SET_PATH = Path(__file__).with_name("quality_set.yaml")
SNRS: tuple[float | None, ...] = (None, 20.0, 10.0)
# What each part of the set is for now. The first two held-out parts were run while the
# recognizer was tuned: tuning now. v3, v4, v5 and their hard parts are reported only in
# aggregate.
SPLITS = {
    "tuned": "tuning",
    "tuned_natural": "tuning (every third tuning line again, in natural voices)",
    "heldout": "tuning (held out until v3; tuned on since)",
    "fresh": "tuning (second held-out part until v3; tuned on since)",
    "v3": "held-out (v3: eSpeak-heavy; never looked at line by line while tuning)",
    "v4": "held-out (v4: new lines in natural voices; never looked at while tuning)",
    "v4_hard": "held-out (v4's lines again in eSpeak voices: the hard-voice part)",
    "v5": "held-out (v5: new lines in natural voices, written after v3 and v4 were used)",
    "v5_hard": "held-out (v5's lines again in eSpeak voices: the hard-voice part)",
}


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled line and the condition it is spoken in."""

    category: str
    text: str
    expected: Any
    heldout: bool
    voice: str
    snr_db: float | None
    seed: int
    split: str = ""  # a key of SPLITS


def family_of(voice: str) -> str:
    """'hard' for the eSpeak voices (every one is named espeak-...), else 'natural'."""
    return HARD if voice.startswith("espeak") else NATURAL


def _spoken(category: str, lines: Sequence[Any], split: str, voices: Sequence[Voice],
            snrs: Sequence[float | None], seed: int, *, quick: bool, every: int = 1,
            heldout: bool = True) -> list[Item]:
    """Items for one part's lines of one category: voice i % len, noise by rounds of voices.

    `every`: only every n-th line (a sample spoken again by other voices); seeds count from
    `seed` over all lines, so the sample's audio does not depend on `every`.
    """
    out: list[Item] = []
    kept = 0
    for i, (text, expected) in enumerate(lines):
        _check_text(text, category)
        if i % every:
            continue
        kept += 1
        if quick and (kept - 1) % 3:
            continue
        k = kept - 1
        out.append(Item(category, str(text), expected, heldout, voices[k % len(voices)].name,
                        snrs[(k // len(voices)) % len(snrs)], seed + i + 1, split))
    return out


def load_items(path: Path = SET_PATH, *, quick: bool = False) -> tuple[list[Item], dt.date]:
    """Every labelled line with its voice and noise (fixed by its position: repeatable)."""
    data = yaml.safe_load(path.read_text())
    today = data.pop("today")
    fresh = data.pop("fresh", {})
    v3 = data.pop("heldout_v3", {})
    v4 = data.pop("heldout_v4", {})
    v5 = data.pop("heldout_v5", {})
    items: list[Item] = []
    n = 0
    for category, parts in data.items():
        for split in ("tune", "heldout"):
            voices = HELDOUT_VOICES if split == "heldout" else TUNE_VOICES
            lines = parts[split]
            items += _spoken(category, lines, "heldout" if split == "heldout" else "tuned",
                             voices, SNRS, n, quick=quick, heldout=split == "heldout")
            n += len(lines)
    # Seeds of their own per part, so adding lines to one part never changes the audio of
    # the others (the base is far above any part's line count).
    seed = 300_000
    for category, parts in data.items():
        items += _spoken(category, parts["tune"], "tuned_natural", TUNE_NATURAL_VOICES, SNRS,
                         seed, quick=quick, every=3, heldout=False)
        seed += len(parts["tune"])
    later = (("fresh", fresh, FRESH_VOICES, SNRS, 100_000, 1),
             ("v3", v3, V3_VOICES, V3_SNRS, 200_000, 1),
             ("v4", v4, V4_VOICES, SNRS, 400_000, 1),
             ("v4_hard", v4, V4_HARD_VOICES, SNRS, 500_000, 2),
             ("v5", v5, V5_VOICES, SNRS, 600_000, 1),
             ("v5_hard", v5, V5_HARD_VOICES, SNRS, 700_000, 2))
    for split, part, speakers, snrs, base, every in later:
        seed = base
        for category, lines in part.items():
            items += _spoken(category, lines, split, speakers, snrs, seed, quick=quick,
                             every=every)
            seed += len(lines)
    return items, today


def _check_text(text: object, category: str) -> None:
    if not isinstance(text, str):  # YAML reads a bare yes/no/on/off as a boolean
        raise ValueError(f"{category}: the line {text!r} is not text: quote it in the set")
