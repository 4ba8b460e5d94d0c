"""The quality bench gives the flow each turn's recognizer confidence, as the call session
does: an unsure digit answer is read back, counted as its value (the caller confirms a
right one) and reported, so a wrong one read back is told from one stored unread."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.bench import quality
from callcenter.bench.quality_audio import RATE, Transcriber
from callcenter.bench.quality_items import Item
from callcenter.callsession.second_hearing import HEARD_AGAIN_CONFIDENCE
from callcenter.speech.stt.base import Transcript, TranscriptKind


class Engine:
    def __init__(self, text: str, confidence: float, options: str) -> None:
        self.text, self.confidence, self.options = text, confidence, options

    def transcribe(self, chunk: np.ndarray, start_ms: float, expect: Any = None) -> Transcript:
        return Transcript(TranscriptKind.FINAL, self.text, start_ms, confidence=self.confidence)


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, heard: str, confidence: float,
        expected: str = "482913", second: str | None = None) -> quality.Outcome:
    audio = np.zeros(2 * RATE, np.int16)
    monkeypatch.setattr(quality, "caller_audio", lambda *a: audio)
    monkeypatch.setattr(quality, "vad_segments", lambda a: [(300.0, 1200.0)])
    t = Transcriber.__new__(Transcriber)
    t.stt, t.takes_expectation = Engine(heard, confidence, "tiny"), True
    t.second = Engine(second, 0.9, "base") if second is not None else None
    t.path, t.memo = tmp_path / "t.json", {}
    item = Item("digits", "four eight two nine one three", expected, False, "piper-1.0",
                None, 1, "tuned")
    return quality.run_item(item, None, t, quality.FlowJudge(dt.date(2026, 11, 24)),  # type: ignore[arg-type]
                            tmp_path)


def test_a_sure_reading_is_stored_without_a_read_back(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = run(tmp_path, monkeypatch, "4 8 2 9 1 3", 0.9)
    assert out.got == "482913" and not out.read_back and out.right


def test_an_unsure_reading_is_read_back_and_counts_as_its_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = run(tmp_path, monkeypatch, "4 8 2 9 1 3", 0.3)
    assert out.got == "482913" and out.read_back and out.right
    wrong = run(tmp_path, monkeypatch, "4 8 2 9 1 4", 0.3)
    assert wrong.read_back and not wrong.right
    report = quality._part([out, wrong])
    assert (report["read_back"], report["read_back_wrong"], report["stored_wrong"]) == (2, 1, 0)


def test_a_reading_the_second_tier_took_is_read_back(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = run(tmp_path, monkeypatch, "for a tie to nine", 0.9, second="4 8 2 9 1 3")
    assert out.heard_again == "4 8 2 9 1 3"
    assert out.confidence == HEARD_AGAIN_CONFIDENCE and out.read_back and out.right


def test_a_wrong_value_stored_unread_is_counted(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = run(tmp_path, monkeypatch, "4 8 2 9 1 4", 0.95)
    assert quality._part([out])["stored_wrong"] == 1
