"""A Python WebRTC client for tests: plays PCM (a WAV or a tone) and records what it hears.

It stands where the browser stands: it makes the offer, waits for ICE gathering (no
trickle, as the pages do) and hands the SDP to a signaling function.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Awaitable, Callable

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

RATE = 48000
FRAME = RATE // 50


def tone(seconds: float, hz: float, rate: int = RATE, level: int = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def dominant_hz(samples: np.ndarray, rate: int = RATE) -> float:
    """The strongest frequency in `samples` (for 'did the tone get through')."""
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[:5] = 0  # ignore DC
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


class PcmTrack(MediaStreamTrack):
    """Plays queued 48 kHz mono PCM in real time, silence when nothing is queued."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue = np.zeros(0, dtype=np.int16)
        self._start: float | None = None
        self._sent = 0

    def play(self, samples: np.ndarray) -> None:
        self._queue = np.concatenate([self._queue, samples.astype(np.int16)])

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._sent / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self._queue[:FRAME]
        self._queue = self._queue[FRAME:]
        if len(chunk) < FRAME:
            chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, self._sent
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += FRAME
        return frame


Signal = Callable[[str], Awaitable[str]]


class ClientPeer:
    """Offer -> `signal(offer_sdp)` -> answer; `heard` is everything received, 48 kHz mono."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = PcmTrack()
        self.heard: list[np.ndarray] = []
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, signal: Signal) -> None:
        self.pc.addTrack(self.mic)

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._reader = asyncio.ensure_future(self._read(track))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await signal(self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def _read(self, track: MediaStreamTrack) -> None:
        mono = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        with contextlib.suppress(MediaStreamError):
            while True:
                for f in mono.resample(await track.recv()):
                    self.heard.append(f.to_ndarray().reshape(-1).copy())

    def heard_since(self, index: int) -> np.ndarray:
        parts = self.heard[index:]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    async def wait_heard(self, predicate: Callable[[np.ndarray], bool], timeout: float,
                         what: str, since: int = 0) -> np.ndarray:
        deadline = time.monotonic() + timeout
        while True:
            got = self.heard_since(since)
            if len(got) and predicate(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"never heard {what} within {timeout}s "
                                     f"({len(got) / RATE:.1f}s of audio received)")
            await asyncio.sleep(0.05)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self.pc.close()


def loud(samples: np.ndarray, peak: int = 1000) -> bool:
    return bool(len(samples)) and int(np.abs(samples).max()) > peak
