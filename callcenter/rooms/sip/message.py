"""SIP messages (RFC 3261 section 7) as data: parse a datagram, serialise a message.

Header names are case-insensitive and the compact forms (`v`, `f`, `t`, `i`, `m`, `l`, ...)
are expanded on the way in, so the rest of the endpoint asks for `Via` and gets it however
the peer spelled it. Content-Length is honoured on parse (a body longer than it is cut; a
shorter one is an error) and always recomputed on serialise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from callcenter.rooms.sip.address import parse_address

COMPACT = {
    "v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
    "c": "Content-Type", "e": "Content-Encoding", "k": "Supported", "s": "Subject",
    "o": "Event", "r": "Refer-To", "b": "Referred-By", "u": "Allow-Events",
    "x": "Session-Expires", "a": "Accept-Contact", "j": "Reject-Contact",
}
# Names whose usual spelling is not plain title case.
_SPELLING = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
             "mime-version": "MIME-Version", "rack": "RAck", "rseq": "RSeq"}
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")

REASONS = {
    100: "Trying", 180: "Ringing", 200: "OK", 202: "Accepted", 400: "Bad Request",
    405: "Method Not Allowed", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error",
    501: "Not Implemented", 503: "Service Unavailable", 505: "Version Not Supported",
}


class SipParseError(ValueError):
    """A datagram that is not a valid SIP message.

    `partial` holds what did parse (start line and headers) when there is enough of it to
    answer with a 400, so the peer learns why instead of retransmitting into silence.
    """

    def __init__(self, why: str, partial: SipRequest | None = None) -> None:
        super().__init__(why)
        self.why, self.partial = why, partial


def canonical(name: str) -> str:
    """The one spelling of a header name (compact forms expanded)."""
    n = name.strip()
    low = n.lower()
    if low in COMPACT:
        return COMPACT[low]
    return _SPELLING.get(low) or "-".join(p[:1].upper() + p[1:].lower() for p in low.split("-"))


class Headers:
    """Ordered SIP headers with case-insensitive lookup (one entry per header line)."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        for k, v in items or ():
            self.add(k, v)

    def add(self, name: str, value: str) -> None:
        self._items.append((canonical(name), value.strip()))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = canonical(name)
        self._items = [(k, v) for k, v in self._items if k != key]

    def get(self, name: str, default: str | None = None) -> str | None:
        key = canonical(name)
        return next((v for k, v in self._items if k == key), default)

    def get_all(self, name: str) -> list[str]:
        key = canonical(name)
        return [v for k, v in self._items if k == key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def copy(self) -> Headers:
        h = Headers()
        h._items = list(self._items)
        return h


@dataclass
class SipMessage:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        lines = [self.start_line()]
        lines += [f"{k}: {v}" for k, v in self.headers if k != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.headers.get("CSeq") or "")


@dataclass
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"


@dataclass
class SipResponse(SipMessage):
    status: int = 200
    reason: str = ""

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason or REASONS.get(self.status, '')}".rstrip()


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or not _TOKEN.match(parts[1]):
        raise SipParseError(f"bad CSeq {value!r}: want '<number> <METHOD>'")
    return int(parts[0]), parts[1].upper()


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """One SIP message from one UDP datagram; raises `SipParseError`."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:  # tolerate bare LF line ends
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    headers = Headers()
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and len(headers._items):  # folded continuation line
            k, v = headers._items[-1]
            headers._items[-1] = (k, f"{v} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            raise SipParseError(f"bad header line {line[:60]!r}", _partial(start, headers))
        headers.add(name, value)
    msg = _start(start, headers)
    msg.body = _body(body, headers, msg)
    if isinstance(msg, SipRequest):
        _check_request(msg)
    return msg


def _partial(start: str, headers: Headers) -> SipRequest | None:
    parts = start.split(" ")
    if len(parts) == 3 and parts[2] == "SIP/2.0" and "Via" in headers:
        return SipRequest(headers, b"", parts[0], parts[1])
    return None


def _start(start: str, headers: Headers) -> SipRequest | SipResponse:
    if start.startswith("SIP/2.0 "):
        _, code, reason = ([*start.split(" ", 2), ""])[:3]
        if len(code) != 3 or not code.isdigit():
            raise SipParseError(f"bad status line {start[:60]!r}")
        return SipResponse(headers, b"", int(code), reason)
    parts = start.split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or ":" not in parts[1]:
        raise SipParseError(f"bad request line {start[:60]!r}", None)
    if parts[2] != "SIP/2.0":
        raise SipParseError(f"unsupported version {parts[2]!r}", _partial(start, headers))
    return SipRequest(headers, b"", parts[0].upper(), parts[1])


def _body(body: bytes, headers: Headers, msg: SipRequest | SipResponse) -> bytes:
    length = headers.get("Content-Length")
    if length is None:
        return body  # allowed over UDP: the body is the rest of the datagram
    partial = msg if isinstance(msg, SipRequest) else None
    if not length.isdigit():
        raise SipParseError(f"bad Content-Length {length!r}", partial)
    n = int(length)
    if n > len(body):
        raise SipParseError(f"Content-Length {n} but the body has {len(body)} bytes", partial)
    return body[:n]


def _check_request(req: SipRequest) -> None:
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        if not req.headers.get(name):
            raise SipParseError(f"missing {name} header", req if "Via" in req.headers else None)
    try:
        _, method = req.cseq
    except SipParseError as exc:
        raise SipParseError(exc.why, req) from None
    if method != req.method and not (req.method == "ACK" and method == "INVITE"):
        raise SipParseError(f"CSeq method {method} does not match {req.method}", req)
    if not parse_address(req.headers.get("From") or "").uri.scheme:
        raise SipParseError("From header has no URI", req)
