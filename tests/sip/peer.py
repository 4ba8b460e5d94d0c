"""A raw UDP SIP/RTP peer for endpoint tests: send exact bytes, read what comes back."""

from __future__ import annotations

import asyncio
import secrets
from typing import cast

import numpy as np

from callcenter.audio.g711 import mulaw_decode, mulaw_encode
from callcenter.rooms.sip.message import SipRequest, SipResponse, parse_message
from callcenter.rooms.sip.rtp import RtpPacket, parse_rtp


class UdpPeer(asyncio.DatagramProtocol):
    """A UDP socket whose datagrams queue up for `recv`."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.log: list[tuple[float, bytes]] = []  # every datagram with its arrival time

    @classmethod
    async def open(cls) -> UdpPeer:
        peer = cls()
        await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: peer, local_addr=("127.0.0.1", 0))
        assert peer.transport is not None
        peer.port = peer.transport.get_extra_info("sockname")[1]
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.log.append((asyncio.get_running_loop().time(), data))
        self.inbox.put_nowait((data, addr))

    def send(self, data: str | bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data.encode() if isinstance(data, str) else data, addr)

    async def recv(self, timeout: float = 2.0) -> bytes:
        return (await asyncio.wait_for(self.inbox.get(), timeout))[0]

    async def sip(self, timeout: float = 2.0) -> SipRequest | SipResponse:
        return parse_message(await self.recv(timeout))

    async def response(self, status: int, timeout: float = 3.0) -> SipResponse:
        """Skip provisional answers until `status` (fails on any other final one)."""
        while True:
            msg = await self.sip(timeout)
            if isinstance(msg, SipResponse):
                if msg.status == status:
                    return msg
                assert msg.status < 200, f"wanted {status}, got {msg.status} {msg.reason}"

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def sdp(rtp_port: int, payloads: str = "0 101", extra: str = "") -> str:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP {payloads}\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n{extra}"
    )


class Dialog:
    """The caller's side of one call, for writing requests by hand."""

    def __init__(self, peer: UdpPeer, ep_port: int, *, dialed: str = "+15550001000",
                 caller: str = "+15550001111") -> None:
        self.peer, self.ep = peer, ("127.0.0.1", ep_port)
        self.dialed, self.caller = dialed, caller
        self.call_id = secrets.token_hex(8) + "@test"
        self.from_tag = secrets.token_hex(4)
        self.to_tag = ""
        self.cseq = 1
        self.branch = ""

    def request(self, method: str, body: str = "", *, cseq: int | None = None,
                branch: str | None = None, ctype: str = "application/sdp") -> str:
        self.branch = branch or "z9hG4bK" + secrets.token_hex(6)
        to = f"<sip:{self.dialed}@127.0.0.1>" + (f";tag={self.to_tag}" if self.to_tag else "")
        lines = [
            f"{method} sip:{self.dialed}@127.0.0.1:{self.ep[1]} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.peer.port};branch={self.branch};rport",
            "Max-Forwards: 70",
            f'From: "Test" <sip:{self.caller}@127.0.0.1:{self.peer.port}>;tag={self.from_tag}',
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq or self.cseq} {'INVITE' if method == 'ACK' else method}",
            f"Contact: <sip:{self.caller}@127.0.0.1:{self.peer.port}>",
        ]
        if body:
            lines.append(f"Content-Type: {ctype}")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def send(self, method: str, body: str = "", **kw: object) -> str:
        text = self.request(method, body, **kw)  # type: ignore[arg-type]
        self.peer.send(text, self.ep)
        return text

    async def call(self, rtp_port: int) -> SipResponse:
        """INVITE, wait for 200, ACK it: an answered call."""
        self.send("INVITE", sdp(rtp_port))
        ok = await self.peer.response(200)
        self.to_tag = ok.headers.get("To", "").split("tag=")[-1]  # type: ignore[union-attr]
        self.send("ACK", cseq=self.cseq)
        return ok


def tone_packets(freq: float, seconds: float, *, seq0: int = 1, ssrc: int = 42) -> list[bytes]:
    """PCMU RTP packets (20 ms) of a sine tone."""
    t = np.arange(int(8000 * seconds)) / 8000.0
    pcm = (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    out = []
    for i in range(len(pcm) // 160):
        payload = mulaw_encode(pcm[i * 160 : (i + 1) * 160])
        out.append(RtpPacket(0, seq0 + i, 160 * i, ssrc, payload, i == 0).to_bytes())
    return out


def decode_pcmu(datagrams: list[bytes]) -> np.ndarray:
    pkts = [p for d in datagrams if (p := parse_rtp(d)) is not None]
    return np.concatenate([mulaw_decode(p.payload) for p in pkts]) if pkts else np.zeros(0)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    if len(samples) < 64:
        return 0.0
    x = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(x))
    spectrum[:5] = 0  # no DC
    return float(np.argmax(spectrum) * rate / len(samples))
