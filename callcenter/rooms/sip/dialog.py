"""The endpoint's state for one call (dialog + INVITE transaction) and message builders.

Transactions follow RFC 3261 over UDP, simplified to what a UAS on a dev box needs: a
final response to an INVITE is retransmitted (T1, doubling to T2) until its ACK comes or
64*T1 passes; requests this side sends (BYE) are retransmitted the same way until any
response. Transactions are matched by Call-ID, From tag and CSeq number, which also
matches peers that predate RFC 3261 branch ids.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.rooms.base import Participant, ParticipantKind
from callcenter.rooms.sip.address import parse_address, parse_uri, split_values
from callcenter.rooms.sip.media import RtpSession
from callcenter.rooms.sip.message import REASONS, Headers, SipRequest, SipResponse
from callcenter.rooms.sip.room import SipRoom
from callcenter.rooms.sip.sdp import LocalSdp, Negotiated

Addr = tuple[str, int]
TxKey = tuple[str, str, int]  # Call-ID, From tag, CSeq number
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER"


@dataclass(frozen=True)
class SipTimers:
    """RFC 3261 timers (seconds); tests shrink them to see retransmissions quickly."""

    t1: float = 0.5
    t2: float = 4.0

    @property
    def give_up(self) -> float:
        return 64 * self.t1


@dataclass(eq=False)
class ServerInvite:
    """One INVITE (initial or re-INVITE) and what we answered it."""

    key: TxKey
    request: SipRequest
    addr: Addr
    to_tag: str = ""
    last: bytes | None = None  # the last response sent: resent to a retransmitted INVITE
    final: int | None = None
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    expires: float = float("inf")


@dataclass(eq=False)
class SipCall:
    """One dialog: the caller's leg of a call, and its room once answered."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_header: str  # our From/To value (the INVITE's To plus our tag)
    remote_header: str  # theirs (the INVITE's From)
    remote_target: Addr  # where in-dialog requests go
    sdp: LocalSdp
    negotiated: Negotiated
    room: SipRoom
    invite: ServerInvite
    local_cseq: int = field(default_factory=lambda: secrets.randbelow(10_000) + 1)
    delayed_offer: bool = False  # the INVITE had no SDP: our 200 offered, the ACK answers
    confirmed: bool = False
    ending: bool = False  # our BYE is out; a crossing BYE still gets its 200


def new_call(
    tx: ServerInvite, media: RtpSession, sdp: LocalSdp, send_bye: Callable[[SipCall], None],
    *, delayed_offer: bool,
) -> SipCall:
    """The dialog an initial INVITE creates, with its room and its caller.

    The caller carries the attributes a LiveKit SIP participant has: `sip.phoneNumber` is
    the From user (caller id), `sip.trunkPhoneNumber` the Request-URI user (the dialed
    number, which picks the published flow), `sip.callID` the SIP Call-ID.
    """
    req = tx.request
    frm = parse_address(req.headers.get("From") or "")
    number = frm.uri.user
    attrs = {"sip.phoneNumber": number, "sip.trunkPhoneNumber": parse_uri(req.uri).user,
             "sip.callID": req.call_id, "sip.callStatus": "active"}
    caller = Participant(f"sip_{number or 'caller'}", ParticipantKind.CALLER,
                         frm.display or number, attrs)
    contact = parse_address(req.headers.get("Contact") or "").uri
    target = tx.addr
    if contact.host.replace(".", "").isdigit():  # an IPv4 literal: the remote target
        target = (contact.host, contact.port or 5060)
    holder: list[SipCall] = []
    room = SipRoom(f"call-{tx.to_tag}", caller, media, send_bye=lambda: send_bye(holder[0]))
    call = SipCall(
        call_id=req.call_id, local_tag=tx.to_tag, remote_tag=frm.tag,
        local_header=f"{req.headers.get('To')};tag={tx.to_tag}",
        remote_header=req.headers.get("From") or "", remote_target=target,
        sdp=sdp, negotiated=media.negotiated, room=room, invite=tx, delayed_offer=delayed_offer,
    )
    holder.append(call)
    return call


def new_tag() -> str:
    return secrets.token_hex(5)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)  # the RFC 3261 magic cookie, then random


def response_for(
    req: SipRequest, status: int, reason: str = "", *, to_tag: str = "", source: Addr | None = None,
    body: bytes = b"", content_type: str = "", extra: dict[str, str] | None = None,
) -> SipResponse:
    """A response that copies the request's Via, From, To, Call-ID and CSeq (RFC 3261 8.2.6)."""
    h = Headers()
    vias = req.headers.get_all("Via")
    for i, via in enumerate(vias):
        h.add("Via", _stamp_via(via, source) if i == 0 and source else via)
    h.add("From", req.headers.get("From") or "")
    to = req.headers.get("To") or ""
    if to_tag and status > 100 and not parse_address(to).tag:
        to = f"{to};tag={to_tag}"
    h.add("To", to)
    h.add("Call-ID", req.call_id)
    h.add("CSeq", req.headers.get("CSeq") or "")
    for k, v in (extra or {}).items():
        h.add(k, v)
    h.add("Server", "callcenter-dev")
    if content_type:
        h.add("Content-Type", content_type)
    return SipResponse(h, body, status, reason or REASONS.get(status, ""))


def _stamp_via(via: str, source: Addr) -> str:
    """Add `received`/`rport` to the top Via (RFC 3581), so NATed peers get their answers."""
    values = split_values(via)
    top = values[0]
    parts = [p.strip() for p in top.split(";")]
    sent_by = parts[0].split(" ")[-1].split(":")[0]
    out = []
    for p in parts:
        if p.lower() == "rport":
            p = f"rport={source[1]}"
        out.append(p)
    if sent_by != source[0] and not any(p.lower().startswith("received=") for p in out):
        out.append(f"received={source[0]}")
    return ", ".join([";".join(out), *values[1:]])


def bye_for(call: SipCall, local: Addr, branch: str) -> SipRequest:
    """Our BYE for `call` (we are the UAS: the From/To of the INVITE swap places)."""
    call.local_cseq += 1
    uri = parse_address(call.remote_header)
    target = parse_address(call.invite.request.headers.get("Contact") or "").uri or uri.uri
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP {local[0]}:{local[1]};branch={branch};rport")
    h.add("Max-Forwards", "70")
    h.add("From", call.local_header)
    h.add("To", call.remote_header)
    h.add("Call-ID", call.call_id)
    h.add("CSeq", f"{call.local_cseq} BYE")
    h.add("User-Agent", "callcenter-dev")
    return SipRequest(h, b"", "BYE", str(target) if target.scheme else "sip:caller@invalid")
