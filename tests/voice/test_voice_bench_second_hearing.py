"""The quality bench hears again a turn the flow did not understand, as the interpreter
does (`callsession.second_hearing`): the second tier's reading is taken only if understood."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.bench import quality
from callcenter.bench.quality_audio import RATE, Transcriber
from callcenter.bench.quality_items import Item
from callcenter.speech.stt.base import Transcript, TranscriptKind


class Engine:
    def __init__(self, text: str, options: str) -> None:
        self.text, self.options, self.calls = text, options, 0

    def transcribe(self, chunk: np.ndarray, start_ms: float, expect: Any = None) -> Transcript:
        self.calls += 1
        return Transcript(TranscriptKind.FINAL, self.text, start_ms)


def transcriber(tmp_path: Path, first: str, second: str | None) -> Transcriber:
    t = Transcriber.__new__(Transcriber)
    t.stt, t.takes_expectation = Engine(first, "tiny"), True
    t.second = Engine(second, "base") if second is not None else None
    t.path, t.memo = tmp_path / "t.json", {}
    return t


@pytest.fixture
def judge() -> quality.FlowJudge:
    return quality.FlowJudge(dt.date(2026, 11, 24))


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judge: quality.FlowJudge,
        category: str, first: str, second: str | None) -> quality.Outcome:
    audio = np.zeros(2 * RATE, np.int16)
    monkeypatch.setattr(quality, "caller_audio", lambda *a: audio)
    monkeypatch.setattr(quality, "vad_segments", lambda a: [(300.0, 1200.0)])
    item = Item(category, "I want a refund", "billing", False, "piper-1.0", None, 1, "tuned")
    return quality.run_item(item, None, transcriber(tmp_path, first, second),  # type: ignore[arg-type]
                            judge, tmp_path)


def test_a_missed_turn_is_heard_again_and_the_understood_reading_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judge: quality.FlowJudge) -> None:
    out = run(tmp_path, monkeypatch, judge, "menu", "one for reason.", "I want a refund.")
    assert out.got == "billing" and out.right
    assert out.heard_again == "I want a refund." and out.heard_again_ms is not None


def test_an_understood_turn_is_not_heard_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judge: quality.FlowJudge) -> None:
    out = run(tmp_path, monkeypatch, judge, "menu", "billing please", "cancel")
    assert out.got == "billing" and out.heard_again_ms is None


def test_a_second_reading_not_understood_either_leaves_the_reprompt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judge: quality.FlowJudge) -> None:
    out = run(tmp_path, monkeypatch, judge, "menu", "one for reason.", "what's the weather")
    assert out.got == "reprompt" and out.heard_again is None
    assert out.heard_again_ms is not None  # it was asked, and paid for


def test_without_a_second_tier_a_missed_turn_stays_missed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judge: quality.FlowJudge) -> None:
    out = run(tmp_path, monkeypatch, judge, "menu", "one for reason.", None)
    assert out.got == "reprompt" and out.heard_again_ms is None
