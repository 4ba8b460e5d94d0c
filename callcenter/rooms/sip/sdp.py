"""SDP offer/answer (RFC 4566, RFC 3264) for one audio stream of G.711 and telephone-event.

The answer takes the offerer's first G.711 codec (their order is their preference), and
telephone-event at the payload type they chose, so RFC 4733 DTMF arrives as they send it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

# Static payload types (RFC 3551) and the names a dynamic rtpmap may give them.
G711 = {"PCMU": 0, "PCMA": 8}
_STATIC_NAMES = {0: "PCMU", 8: "PCMA"}
_FLIP = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive",
         "sendrecv": "sendrecv"}


class SdpError(ValueError):
    """An offer we cannot read (answered 400)."""


class NoCommonCodec(ValueError):
    """An offer with no PCMU/PCMA audio stream (answered 488)."""


@dataclass
class AudioOffer:
    """The remote side's audio stream: where to send RTP and what it can take."""

    address: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    direction: str = "sendrecv"


@dataclass(frozen=True)
class Negotiated:
    codec: str  # "PCMU" or "PCMA"
    payload_type: int
    dtmf_payload_type: int | None
    remote: tuple[str, int]
    direction: str  # ours, as seen from this side

    @property
    def sends(self) -> bool:
        """Whether we should send RTP (the far end is not holding us)."""
        return self.direction in ("sendrecv", "sendonly") and self.remote[0] != "0.0.0.0"


def parse_offer(body: bytes) -> AudioOffer:
    """The first audio stream of an SDP body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    session_addr = ""
    media: AudioOffer | None = None
    in_audio = False
    direction = "sendrecv"
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "c":
            parts = value.split()
            if len(parts) < 3:
                raise SdpError(f"bad c= line {line!r}")
            addr = parts[2].split("/")[0]
            if in_audio and media is not None:
                media.address = addr
            elif media is None:
                session_addr = addr
        elif kind == "m":
            if media is not None:
                break  # only the first audio stream matters; later streams are ignored
            parts = value.split()
            in_audio = len(parts) >= 3 and parts[0] == "audio"
            if in_audio:
                if not parts[1].split("/")[0].isdigit():
                    raise SdpError(f"bad m= line {line!r}")
                pts = [int(p) for p in parts[3:] if p.isdigit()]
                media = AudioOffer(session_addr, int(parts[1].split("/")[0]), pts)
        elif kind == "a":
            name, _, arg = value.partition(":")
            if name in _FLIP:
                direction = name
            elif name == "rtpmap" and in_audio and media is not None:
                pt, _, enc = arg.partition(" ")
                enc_name, _, rate = enc.partition("/")
                if pt.isdigit():
                    clock = rate.split("/")[0]
                    media.rtpmap[int(pt)] = (enc_name.upper(), int(clock) if clock.isdigit()
                                             else 8000)
    if media is None:
        raise NoCommonCodec("the offer has no audio stream")
    if not media.address:
        raise SdpError("the offer has no c= address for its audio")
    media.direction = direction
    return media


def negotiate(offer: AudioOffer) -> Negotiated:
    """Pick our codec and DTMF payload type from `offer`; raises `NoCommonCodec`."""
    if offer.port == 0:
        raise NoCommonCodec("the offer's audio stream is disabled (port 0)")
    codec: tuple[str, int] | None = None
    dtmf: int | None = None
    for pt in offer.payload_types:
        name, rate = offer.rtpmap.get(pt, (_STATIC_NAMES.get(pt, ""), 8000))
        if codec is None and name in G711 and rate == 8000:
            codec = (name, pt)
        elif dtmf is None and name == "TELEPHONE-EVENT" and rate == 8000:
            dtmf = pt
    if codec is None:
        names = [offer.rtpmap.get(p, (str(p), 0))[0] for p in offer.payload_types]
        raise NoCommonCodec(f"no PCMU or PCMA in the offer ({', '.join(names) or 'empty'})")
    return Negotiated(codec[0], codec[1], dtmf, (offer.address, offer.port),
                      _FLIP[offer.direction])


@dataclass
class LocalSdp:
    """Our side of the session: the same bytes every time unless something changed."""

    host: str
    port: int
    session_id: int = field(default_factory=lambda: secrets.randbelow(2**31))
    version: int = 1
    _last: tuple[object, ...] | None = None

    def answer(self, n: Negotiated) -> bytes:
        key = (n.codec, n.payload_type, n.dtmf_payload_type, n.direction)
        if self._last is not None and self._last != key:
            self.version += 1  # RFC 3264: a changed description gets a new version
        self._last = key
        fmts = [(n.payload_type, n.codec)]
        if n.dtmf_payload_type is not None:
            fmts.append((n.dtmf_payload_type, "telephone-event"))
        return self._render(fmts, n.direction)

    def offer(self) -> bytes:
        """A full offer, for an INVITE that came without one (the answer is in the ACK)."""
        return self._render([(0, "PCMU"), (8, "PCMA"), (101, "telephone-event")], "sendrecv")

    def _render(self, fmts: list[tuple[int, str]], direction: str) -> bytes:
        lines = [
            "v=0",
            f"o=callcenter {self.session_id} {self.version} IN IP4 {self.host}",
            "s=callcenter dev",
            f"c=IN IP4 {self.host}",
            "t=0 0",
            f"m=audio {self.port} RTP/AVP " + " ".join(str(pt) for pt, _ in fmts),
        ]
        for pt, name in fmts:
            lines.append(f"a=rtpmap:{pt} {name}/8000")
            if name == "telephone-event":
                lines.append(f"a=fmtp:{pt} 0-15")
        lines += ["a=ptime:20", f"a={direction}"]
        return ("\r\n".join(lines) + "\r\n").encode()
