"""SIP addresses: URIs, name-addr values (From/To/Contact) and Via, as small dataclasses.

Only what a dev UAS needs: user, host, port and parameters; no URI escaping rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class SipUri:
    scheme: str = ""
    user: str = ""
    host: str = ""
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        s = f"{self.scheme}:" + (f"{self.user}@" if self.user and self.host else self.user)
        s += self.host + (f":{self.port}" if self.port else "")
        return s + "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())


@dataclass
class Address:
    """A From/To/Contact value: display name, URI, header parameters (`tag`, ...)."""

    uri: SipUri
    display: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return self.params.get("tag", "")


def _params(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in text.split(";"):
        k, _, v = p.strip().partition("=")
        if k:
            out[k.lower()] = v.strip().strip('"')
    return out


def parse_uri(text: str) -> SipUri:
    scheme, colon, rest = text.strip().partition(":")
    if not colon or not scheme.isalpha():
        return SipUri()
    rest = rest.split("?", 1)[0]
    userhost, _, params = rest.partition(";")
    if scheme.lower() == "tel":
        return SipUri("tel", userhost, "", None, _params(params))
    user, at, hostport = userhost.rpartition("@")
    user = user.split(":", 1)[0] if at else ""
    if hostport.startswith("["):  # IPv6 literal
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = hostport.partition(":")
    return SipUri(scheme.lower(), user, host, int(port) if port.isdigit() else None,
                  _params(params))


def parse_address(value: str) -> Address:
    v = value.strip()
    display = ""
    if v.startswith('"'):
        m = re.match(r'^"((?:[^"\\]|\\.)*)"\s*', v)
        if m is None:
            return Address(SipUri())
        display, v = m.group(1), v[m.end():]
    if "<" in v:
        pre, _, rest = v.partition("<")
        uri, _, params = rest.partition(">")
        return Address(parse_uri(uri), display or pre.strip(), _params(params))
    uri, _, params = v.partition(";")  # addr-spec: parameters belong to the header
    return Address(parse_uri(uri), display, _params(params))


def split_values(value: str) -> list[str]:
    """Split a comma-separated header (`Via: a, b`) outside quotes and angle brackets."""
    out: list[str] = []
    cur: list[str] = []
    depth, quoted = 0, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "<>":
            depth += 1 if ch == "<" else -1
        elif ch == "," and not quoted and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return [v for v in out if v]


@dataclass
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str]

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")


def parse_via(value: str) -> Via:
    """The first (topmost) value of a Via header; raises ValueError when there is none."""
    values = split_values(value)
    if not values:
        raise ValueError("missing Via header")
    proto, _, rest = values[0].partition(" ")
    sent_by, _, params = rest.strip().partition(";")
    host, _, port = sent_by.strip().partition(":")
    return Via(proto.rsplit("/", 1)[-1].upper(), host, int(port) if port.isdigit() else None,
               _params(params))
