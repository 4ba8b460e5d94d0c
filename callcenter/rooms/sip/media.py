"""One call's RTP: G.711 out at a steady 20 ms, G.711 in through the jitter buffer, DTMF in.

Every call of an endpoint is driven by the endpoint clock's shared `Ticker` (one wake-up
per 20 ms for all calls, on the clock's own time line so pacing never drifts): each tick
sends one packet of the agent's voice (silence when it has nothing to say, as a phone
line does) and plays one frame of the caller's audio out of the jitter buffer to the
room's `audio_stream` subscribers. Telephone-events skip the jitter buffer: they carry
their own timing and often another SSRC.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from callcenter.audio.resample import Quality, StreamResampler
from callcenter.rooms.clock import Clock
from callcenter.rooms.sip.dtmf import DtmfReceiver
from callcenter.rooms.sip.output import SipAudioOutput
from callcenter.rooms.sip.rtp import JitterBuffer, RtpPacket, parse_rtp
from callcenter.rooms.sip.sdp import Negotiated

log = logging.getLogger(__name__)

RATE = 8000
FRAME = RATE // 50  # samples in 20 ms
_CODECS: dict[str, tuple[Callable[[PCM16], bytes], Callable[[bytes], PCM16]]] = {
    "PCMU": (mulaw_encode, mulaw_decode),
    "PCMA": (alaw_encode, alaw_decode),
}


class FrameChannel:
    """One subscriber's frames: a deque and one waiter (cheaper than an asyncio.Queue)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.resampler = (
            None if rate == RATE
            # QUICK hands back each 20 ms frame at once; better qualities hold ~100 ms.
            else StreamResampler(RATE, rate, quality=Quality.QUICK)
        )
        self._frames: deque[AudioFrame] = deque(maxlen=500)  # 10 s if nobody reads
        self._waiter: asyncio.Future[None] | None = None
        self._carry = np.zeros(0, dtype=np.int16)  # resampled samples short of a frame
        self._t_ms: float | None = None
        self.closed = False

    def put(self, frame: AudioFrame) -> None:
        if self.resampler is None:
            self._frames.append(frame)
        else:
            # The filter hands back a few samples less at first: re-cut into exact 20 ms.
            if self._t_ms is None:
                self._t_ms = frame.timestamp_ms
            n = self.rate // 50
            out = [self._carry, *(f.samples for f in self.resampler.push(frame))]
            pcm = np.concatenate(out)
            whole = len(pcm) - len(pcm) % n
            for i in range(0, whole, n):
                self._frames.append(AudioFrame(pcm[i : i + n], self.rate, self._t_ms))
                self._t_ms += 20.0
            self._carry = pcm[whole:]
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        while True:
            while self._frames:
                yield self._frames.popleft()
            if self.closed:
                return
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None


@dataclass(slots=True)
class MediaStats:
    packets_in: int = 0
    packets_out: int = 0
    ignored_in: int = 0  # not RTP, or a payload type we did not negotiate
    late_ticks: int = 0
    first_packet_from: tuple[str, int] | None = None


class RtpSession(asyncio.DatagramProtocol):
    """The RTP socket of one call (bind it with `open()`, stop it with `close()`)."""

    def __init__(
        self, clock: Clock, negotiated: Negotiated, *, on_dtmf: Callable[[str], None],
        jitter_depth: int = 2,
    ) -> None:
        self.clock = clock
        self.negotiated = negotiated
        self.on_dtmf = on_dtmf
        self.output = SipAudioOutput(RATE)
        self.jitter = JitterBuffer(depth=jitter_depth)
        self.dtmf = DtmfReceiver()
        self.stats = MediaStats()
        self.subscribers: list[FrameChannel] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self._encode, self._decode = _CODECS[negotiated.codec]
        self._silence = self._encode(np.zeros(FRAME, dtype=np.int16))
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._first_out = True
        self._pending = np.zeros(0, dtype=np.int16)  # decoded samples not yet framed
        self._t_ms = 0.0
        self._tick: int | None = None
        self.closed = False
        self.on_close: Callable[[], None] | None = None  # gives the port back to its pool

    async def open(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self.port = transport.get_extra_info("sockname")[1]

    def start(self) -> None:
        if self._tick is None:
            self._tick = self.clock.ticker(0.02).add(self._on_tick)

    def renegotiate(self, negotiated: Negotiated) -> None:
        """A re-INVITE moved or held the stream (the codec stays what was agreed first)."""
        self.negotiated = negotiated

    def report(self) -> dict[str, Any]:
        """The call's media figures for its record: what the agent received of the caller's
        RTP (jitter buffer), how it paced its own, and the keys it decoded."""
        jb = asdict(self.jitter.stats)
        return {
            "codec": self.negotiated.codec,
            "packets_in": self.stats.packets_in,
            "packets_out": self.stats.packets_out,
            "ignored_in": self.stats.ignored_in,
            "late_ticks": self.stats.late_ticks,
            **{f"jitter_{k}": v for k, v in jb.items()},
            "dtmf_digits": self.dtmf.stats.digits,
        }

    def subscribe(self, rate: int) -> FrameChannel:
        ch = FrameChannel(rate)
        if self.closed:
            ch.close()
        self.subscribers.append(ch)
        return ch

    def close(self) -> None:
        self.closed = True
        if self._tick is not None:
            self.clock.ticker(0.02).remove(self._tick)
            self._tick = None
        self.output.close()
        for ch in self.subscribers:
            ch.close()
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        release, self.on_close = self.on_close, None
        if release is not None:
            release()

    # --------------------------------------------------------------- asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        pkt = parse_rtp(data)
        n = self.negotiated
        if pkt is None:
            self.stats.ignored_in += 1
            return
        self.stats.packets_in += 1
        if self.stats.first_packet_from is None:
            self.stats.first_packet_from = addr
        if pkt.payload_type == n.payload_type:
            self.jitter.push(pkt)
        elif pkt.payload_type == n.dtmf_payload_type:
            digit = self.dtmf.push(pkt)
            if digit is not None:
                self.on_dtmf(digit)
        else:
            self.stats.ignored_in += 1  # comfort noise and other codecs: not negotiated

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a peer that has not opened its port yet: not fatal.
        log.debug("RTP socket error on port %s: %s", self.port, exc)

    # --------------------------------------------------------------- the 20 ms tick

    def _on_tick(self, _k: int, due: float) -> None:
        try:
            if self.clock.now() - due > 0.02:
                self.stats.late_ticks += 1
            self._send_one()
            self._play_one()
        except Exception:  # the ticker is shared by every call: never let one break it
            log.exception("RTP tick failed on port %s", self.port)

    def _send_one(self) -> None:
        samples = self.output.take(FRAME)
        if self.transport is None or not self.negotiated.sends:
            return
        payload = self._silence if samples is None else self._encode(samples)
        pkt = RtpPacket(self.negotiated.payload_type, self._seq, self._ts, self._ssrc, payload,
                        marker=self._first_out)
        self.transport.sendto(pkt.to_bytes(), self.negotiated.remote)
        self.stats.packets_out += 1
        self._first_out = False
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + FRAME) & 0xFFFFFFFF

    def _play_one(self) -> None:
        # A FIFO after the jitter buffer, so a peer with another packet size still plays
        # in 20 ms frames (loss is only counted right for 20 ms packets, what we ask for).
        while len(self._pending) < FRAME:
            payload = self.jitter.pop()
            if payload is None:
                break
            self._pending = np.concatenate([self._pending, self._decode(payload)])
        if len(self._pending) >= FRAME:
            samples, self._pending = self._pending[:FRAME], self._pending[FRAME:]
        else:
            samples = np.zeros(FRAME, dtype=np.int16)
            samples[: len(self._pending)] = self._pending
            self._pending = np.zeros(0, dtype=np.int16)
        frame = AudioFrame(samples, RATE, self._t_ms)
        self._t_ms += 20.0
        for ch in self.subscribers:
            if not ch.closed:
                ch.put(frame)
