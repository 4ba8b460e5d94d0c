"""RFC 4733 telephone-events in: one digit per key press, however many packets carry it.

An event is one RTP timestamp: its first packet has the marker bit, updates follow with a
growing duration, and the end packet (E bit) is usually sent three times. A digit is
reported on the first packet seen of an event (so a lost start still counts), and never
again for the same event. A long press may continue under a new timestamp without the
marker bit: that is the same key press, not a new one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from callcenter.rooms.sip.rtp import RtpPacket

EVENTS = "0123456789*#ABCD"  # event codes 0-15 (RFC 4733 section 3.2)


@dataclass(slots=True)
class _Event:
    ssrc: int
    timestamp: int
    digit: str
    first_seq: int
    ended: bool = False


@dataclass(slots=True)
class DtmfStats:
    digits: int = 0
    packets: int = 0
    end_packets: int = 0  # distinct end packets (one per event)
    repeated_ends: int = 0  # retransmitted end packets, ignored
    ignored: int = 0  # malformed, non-digit events, or stale packets of an old event


class DtmfReceiver:
    def __init__(self) -> None:
        self.stats = DtmfStats()
        self._current: _Event | None = None
        self._recent: deque[_Event] = deque(maxlen=8)

    def push(self, pkt: RtpPacket) -> str | None:
        """Feed one telephone-event packet; returns a digit when a new key press starts."""
        self.stats.packets += 1
        p = pkt.payload
        if len(p) < 4 or p[0] >= len(EVENTS):
            self.stats.ignored += 1
            return None
        digit, end = EVENTS[p[0]], bool(p[1] & 0x80)
        known = self._find(pkt.ssrc, pkt.timestamp)
        replay = known is not None and known.ended and pkt.marker and pkt.seq != known.first_seq
        if known is not None and not replay:
            if end:
                if known.ended:
                    self.stats.repeated_ends += 1
                else:
                    known.ended = True
                    self.stats.end_packets += 1
            elif known is not self._current:
                self.stats.ignored += 1  # a reordered packet of an earlier event
            return None
        cur = self._current
        if (not pkt.marker and not replay and cur is not None and not cur.ended
                and cur.ssrc == pkt.ssrc and cur.digit == digit):
            # Long-duration event carried on under a new timestamp (RFC 4733 2.5.1.3).
            cur.timestamp = pkt.timestamp
            cur.ended = end
            return None
        ev = _Event(pkt.ssrc, pkt.timestamp, digit, pkt.seq, ended=end)
        if end:
            self.stats.end_packets += 1
        self._current = ev
        self._recent.append(ev)
        self.stats.digits += 1
        return digit

    def _find(self, ssrc: int, timestamp: int) -> _Event | None:
        for ev in reversed(self._recent):
            if ev.ssrc == ssrc and ev.timestamp == timestamp:
                return ev
        return None
