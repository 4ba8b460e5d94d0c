"""`callcenter call` (a scripted caller on a local room): a caller that breaks half-way, or a
call that runs past its time limit, ends the call row as `failed` with the reason instead of
leaving it `active` forever; a bad WAV named by the script is refused before the call.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.audio.wav import write_wav
from callcenter.flow.validate import load_flow_file
from callcenter.models import Call, CallStatus
from callcenter.rooms.clock import VirtualClock
from callcenter.speech import TTSAudio
from callcenter.testing import local_call
from callcenter.testing.fakes import FakeTTS, FakeTTSStream
from callcenter.testing.local_call import run_local_call
from callcenter.testing.script import CallerScript

FLOWS = Path(__file__).resolve().parents[2] / "flows"
# A WAV whose header reads but whose format the reader refuses (24-bit PCM).
BAD_WAV = (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
           b"\x80\x3e\x00\x00\x02\x00\x18\x00data\x00\x00\x00\x00")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    db: Engine = request.getfixturevalue(fixture)
    return db


def _only_call(engine: Engine) -> Call:
    with Session(engine) as s:
        calls = s.exec(select(Call)).all()
    assert len(calls) == 1
    return calls[0]


async def test_caller_audio_that_breaks_half_way_fails_the_call(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "bad.wav").write_bytes(BAD_WAV)
    script = CallerScript.from_yaml("""
        turns:
          - wait: agent_done
          - dtmf: "1"
          - wait: agent_done
          - say: "four eight two nine one three"
            audio: bad.wav
          - hangup: true
        """, base_dir=tmp_path)
    flow = load_flow_file(FLOWS / "customer_support.yaml")
    result = await run_local_call(flow, script, speech="fake", engine=engine)
    assert result.caller_error and "WavFormatError" in result.caller_error
    assert result.session.status == CallStatus.FAILED
    call = _only_call(engine)
    assert call.status == CallStatus.FAILED and call.ended_at is not None
    assert call.end_reason.startswith("caller script failed: WavFormatError"), call.end_reason
    assert len(result.nodes) >= 2, result.nodes  # it broke mid-call, past the first node


class _HungStream(FakeTTSStream):
    async def __aiter__(self) -> AsyncIterator[TTSAudio]:  # type: ignore[override]
        await asyncio.Event().wait()  # never answers
        nothing: list[TTSAudio] = []
        for audio in nothing:  # keeps this an async generator
            yield audio


class _HangsOnceTTS(FakeTTS):
    """The first stream never answers (a provider hung without a stall timeout)."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock=clock)
        self.hung = False

    def stream(self, *, voice: str | None = None) -> FakeTTSStream:
        if not self.hung:
            self.hung = True
            return _HungStream(self)
        return super().stream(voice=voice)


async def test_a_call_past_its_time_limit_fails_instead_of_staying_active(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[_HangsOnceTTS] = []

    def fake_tts(*, clock: VirtualClock) -> _HangsOnceTTS:
        made.append(_HangsOnceTTS(clock))
        return made[-1]

    monkeypatch.setattr(local_call, "FakeTTS", fake_tts)
    script = CallerScript.from_yaml("turns:\n  - wait: 2\n")
    flow = load_flow_file(FLOWS / "customer_support.yaml")
    result = await run_local_call(flow, script, speech="fake", engine=engine,
                                  call_timeout_s=0.5)
    assert made and made[0].hung
    assert result.session.status == CallStatus.FAILED
    call = _only_call(engine)
    assert call.status == CallStatus.FAILED and call.end_reason.startswith("timeout"), call


def test_cli_refuses_a_bad_wav_before_the_call(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(BAD_WAV)
    write_wav(tmp_path / "good.wav", np.zeros(800, dtype=np.int16), 8000)
    (tmp_path / "caller.yaml").write_text(
        "turns:\n  - wait: agent_done\n  - say: hi\n    audio: good.wav\n"
        "  - say: order\n    audio: bad.wav\n  - hangup: true\n")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATA_DIR=str(tmp_path / "data"), COLUMNS="100")
    out = subprocess.run(
        [sys.executable, "-m", "callcenter", "call", "--flow",
         str(FLOWS / "customer_support.yaml"), "--caller", str(tmp_path / "caller.yaml"),
         "--speech", "fake"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "bad.wav" in lines[0] and "24-bit" in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "data" / "callcenter.db").exists()  # no call was placed
