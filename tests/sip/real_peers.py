"""Helpers for tests with real SIP peers (sipp, baresip): ports, files, processes, a call."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from callcenter.audio.frame import PCM16
from callcenter.audio.g711 import mulaw_encode
from callcenter.callsession.recorder import CallInfo, MemoryRecorder
from callcenter.callsession.session import CallOutcome, CallSession, CallSetup
from callcenter.flow.schema import Flow
from callcenter.rooms.sip import SipRoom
from callcenter.speech import STT, TTS
from callcenter.voice import VoiceSettings

SCENARIOS = Path(__file__).parent / "scenarios"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(tool: str) -> str:
    """The tool's path; skip (fail under CI) when it is missing."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} not installed: run scripts/setup (installs sip-tester, baresip-core)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_mulaw_wav(path: Path, samples: PCM16) -> None:
    """An 8 kHz mu-law WAV with the plain 44-byte header sipp's rtp_stream skips."""
    data = mulaw_encode(samples)
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
                     + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data)


def with_silence(samples: PCM16, before_s: float, after_s: float, rate: int = 8000) -> PCM16:
    pad = [np.zeros(int(rate * s), dtype=np.int16) for s in (before_s, after_s)]
    return np.concatenate([pad[0], samples, pad[1]])


@contextlib.asynccontextmanager
async def process(*argv: str, cwd: Path | None = None) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run a peer; whatever happens it is killed (by its pid) and reaped at the end."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, 9)
            await proc.wait()


@dataclass
class SessionRunner:
    """`on_call` for the endpoint: runs a real CallSession over each SipRoom."""

    flow: Flow
    stt: STT
    tts: TTS
    outcomes: list[asyncio.Future[CallOutcome]] = field(default_factory=list)
    rooms: list[SipRoom] = field(default_factory=list)

    def __call__(self, room: SipRoom) -> None:
        self.rooms.append(room)
        attrs = room.participants()[0].attributes
        session = CallSession(CallSetup(
            room=room,
            info=CallInfo(call_id=room.name, room_name=room.name,
                          caller_number=attrs["sip.phoneNumber"],
                          dialed_number=attrs["sip.trunkPhoneNumber"]),
            flow=self.flow, stt=self.stt, tts=self.tts, recorder=MemoryRecorder(),
            voice_settings=VoiceSettings(input_rate=8000),
        ))
        self.outcomes.append(asyncio.ensure_future(session.run()))

    async def outcome(self, timeout: float = 30.0) -> CallOutcome:
        for _ in range(int(timeout * 20)):
            if self.outcomes:
                break
            await asyncio.sleep(0.05)
        assert self.outcomes, "no call reached the endpoint"
        return await asyncio.wait_for(self.outcomes[0], timeout)
