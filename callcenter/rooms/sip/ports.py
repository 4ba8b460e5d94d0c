"""RTP ports for calls: an inclusive range walked round-robin, or any free port (None)."""

from __future__ import annotations

from callcenter.rooms.sip.media import RtpSession


class PortPool:
    """Binds each call's RTP socket on the next free even port of the range."""

    def __init__(self, host: str, ports: tuple[int, int] | None) -> None:
        if ports is not None and not 0 < ports[0] <= ports[1] <= 65535:
            raise ValueError(f"RTP port range must be 1-65535, low first; got {ports}")
        self.host, self.range = host, ports
        self.in_use: set[int] = set()
        self._next = ports[0] + ports[0] % 2 if ports else 0

    async def open(self, session: RtpSession) -> int:
        """Bind `session`; raises OSError when every port of the range is taken."""
        if self.range is None:
            await session.open(self.host, 0)
            return self._held(session)
        lo, hi = self.range
        # RTP on even ports, RTCP (unused here) on the odd one above: RFC 3550 11.
        candidates = list(range(lo + lo % 2, hi + 1, 2)) or [lo]
        start = candidates.index(self._next) if self._next in candidates else 0
        last: OSError | None = None
        for i in range(len(candidates)):
            port = candidates[(start + i) % len(candidates)]
            if port in self.in_use:
                continue
            try:
                await session.open(self.host, port)
            except OSError as exc:  # taken by another process
                last = exc
                continue
            self._next = candidates[(start + i + 1) % len(candidates)]
            return self._held(session)
        raise OSError(f"no free RTP port in {lo}-{hi} on {self.host} "
                      f"({len(self.in_use)} calls hold one){f': {last}' if last else ''}")

    def _held(self, session: RtpSession) -> int:
        port = session.port
        self.in_use.add(port)
        session.on_close = lambda: self.in_use.discard(port)  # whoever ends the call
        return port
