"""The quality bench reads a turn of several segments as the STT stream does (issue #14).

Not a copy of the rule: the bench joins the segments' audio with the stream's own
`join_segments` and decodes that once; on older code (the `--baseline` run) it cannot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.bench import quality_audio
from callcenter.bench.quality_audio import RATE, Segment, Transcriber
from callcenter.speech.stt.base import Transcript, TranscriptKind
from callcenter.speech.stt.utterance import join_segments


class Engine:
    options = "fake"

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []

    def transcribe(self, chunk: np.ndarray, start_ms: float, expect: Any = None) -> Transcript:
        self.chunks.append(chunk)
        return Transcript(TranscriptKind.FINAL, f"read {len(chunk)}", start_ms)


def transcriber(tmp_path: Path) -> tuple[Transcriber, Engine]:
    t = Transcriber.__new__(Transcriber)
    engine = Engine()
    t.stt, t.takes_expectation = engine, True
    t.path, t.memo = tmp_path / "t.json", {}
    return t, engine


def line() -> np.ndarray:
    rng = np.random.default_rng(3)
    audio = (rng.uniform(-1, 1, 4 * RATE) * 50).astype(np.int16)
    for a, b in ((0.3, 1.0), (2.0, 2.7), (3.1, 3.6)):  # three groups, a second apart
        t = np.arange(int((b - a) * RATE)) / RATE
        audio[int(a * RATE): int(a * RATE) + len(t)] += (5000 * np.sin(2 * np.pi * 200 * t)
                                                         ).astype(np.int16)
    return audio


def test_a_turn_is_read_once_from_the_segments_joined_by_the_streams_rule(
        tmp_path: Path) -> None:
    t, engine = transcriber(tmp_path)
    audio = line()
    segs = [Segment(0.0, 1300.0, "x", 1.0), Segment(1700.0, 2900.0, "y", 1.0),
            Segment(2900.0, 3900.0, "z", 1.0)]
    assert t.reads_turns
    read = t.turn(audio, segs)
    expected = join_segments([t.chunk(audio, s.start_ms, s.end_ms) for s in segs], RATE)
    [chunk] = engine.chunks
    np.testing.assert_array_equal(chunk, expected)
    assert len(chunk) < sum(len(t.chunk(audio, s.start_ms, s.end_ms)) for s in segs)
    assert read.text == f"read {len(expected)}"
    assert (read.start_ms, read.end_ms) == (0.0, 3900.0)
    t.turn(audio, segs)
    assert len(engine.chunks) == 1  # cached like a segment


def test_on_code_without_the_rule_the_bench_reads_segments_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quality_audio, "_join_segments", None)
    t, _ = transcriber(tmp_path)
    assert not t.reads_turns
