"""RTP packets (RFC 3550) and the small jitter buffer in front of the caller's audio.

The jitter buffer is read once per 20 ms tick: it waits until `depth` packets are queued
before it starts, then plays them in sequence order. A packet missing at its turn is lost
(the tick plays silence); one that turns up after its turn, or twice, is dropped and
counted, so the stats say how good the caller's line was.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")
# A sequence jump this large is a new stream (a restarted sender), not loss (RFC 3550 A.1).
_MAX_DROPOUT = 3000


@dataclass(slots=True)
class RtpPacket:
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return _HEADER.pack(0x80, b1, self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                            self.ssrc & 0xFFFFFFFF) + self.payload


def parse_rtp(data: bytes) -> RtpPacket | None:
    """An RTP packet, or None for anything else (RTCP, STUN, garbage)."""
    if len(data) < 12:
        return None
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != 2 or 72 <= (b1 & 0x7F) <= 79:  # wrong version, or RTCP (RFC 5761)
        return None
    start = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < start + 4:
            return None
        start += 4 + 4 * struct.unpack_from("!H", data, start + 2)[0]
    end = len(data)
    if b0 & 0x20:  # padding: the last byte says how much
        end -= data[-1]
    if start > end:
        return None
    return RtpPacket(b1 & 0x7F, seq, ts, ssrc, bytes(data[start:end]), bool(b1 & 0x80))


@dataclass(slots=True)
class JitterStats:
    received: int = 0
    played: int = 0
    lost: int = 0  # missing at their turn (silence was played instead)
    late: int = 0  # arrived after their turn had passed (dropped)
    duplicate: int = 0
    overflow: int = 0  # dropped because the sender ran too far ahead of playout
    underruns: int = 0  # ticks with nothing at all to play (sender paused or stalled)


class JitterBuffer:
    """Reorders one RTP stream by sequence number; read with `pop()` once per frame time."""

    def __init__(self, depth: int = 2, max_frames: int = 12) -> None:
        self.depth, self.max_frames = depth, max_frames
        self.stats = JitterStats()
        self._buf: dict[int, bytes] = {}
        self._ssrc: int | None = None
        self._top: int | None = None  # highest extended sequence number seen
        self._played: int | None = None  # extended seq of the last frame played or given up
        self._running = False
        self._missed: set[int] = set()  # recently given-up seqs: a late arrival, not a dup

    def push(self, pkt: RtpPacket) -> None:
        if pkt.ssrc != self._ssrc:
            self._restart(pkt.ssrc)
        ext = self._extend(pkt.seq)
        if self._top is not None and abs(ext - self._top) > _MAX_DROPOUT:
            self._restart(pkt.ssrc)
            ext = pkt.seq
        self.stats.received += 1
        if self._played is not None and ext <= self._played:
            if ext in self._missed:
                self._missed.discard(ext)
                self.stats.late += 1
            else:
                self.stats.duplicate += 1
            return
        if ext in self._buf:
            self.stats.duplicate += 1
            return
        self._buf[ext] = pkt.payload
        self._top = ext if self._top is None else max(self._top, ext)
        if self._played is not None and ext - self._played > self.max_frames:
            self._catch_up()

    def pop(self) -> bytes | None:
        """The next frame's payload, or None: play silence for this frame."""
        if not self._running:
            if len(self._buf) < self.depth:
                return None
            self._running = True
        if not self._buf:
            self._running = False  # refill to `depth` before playing again
            self.stats.underruns += 1
            return None
        nxt = min(self._buf) if self._played is None else self._played + 1
        self._played = nxt
        payload = self._buf.pop(nxt, None)
        if payload is None:
            self.stats.lost += 1
            self._missed.add(nxt)
            if len(self._missed) > 64:
                self._missed = {s for s in self._missed if s > nxt - 64}
            return None
        self.stats.played += 1
        return payload

    @property
    def queued(self) -> int:
        return len(self._buf)

    def _catch_up(self) -> None:
        # Keep `depth` frames of latency: skip what is older than that.
        assert self._top is not None
        floor = self._top - self.depth
        for s in [s for s in self._buf if s <= floor]:
            del self._buf[s]
            self.stats.overflow += 1
        self._played = floor

    def _restart(self, ssrc: int) -> None:
        self._ssrc, self._top, self._played = ssrc, None, None
        self._buf.clear()
        self._missed.clear()
        self._running = False

    def _extend(self, seq: int) -> int:
        """16-bit seq -> a number that keeps counting across wrap-around."""
        if self._top is None:
            return seq
        ext = (self._top & ~0xFFFF) | seq
        if ext - self._top > 0x8000:
            ext -= 0x10000
        elif self._top - ext > 0x8000:
            ext += 0x10000
        return ext
