"""`SipEndpoint`: the dev UDP SIP user agent server whose calls become `SipRoom`s.

No registrar, no proxy, no auth: any peer may call it (REGISTER is answered 200 and
forgotten, so softphones that insist on registering are happy). Replies go back to the
source of the request (the RFC 3581 way), which is what peers behind NAT need.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from callcenter.rooms.clock import RealClock
from callcenter.rooms.sip.address import parse_address, parse_uri
from callcenter.rooms.sip.dialog import (
    ALLOW,
    Addr,
    ServerInvite,
    SipCall,
    SipTimers,
    bye_for,
    new_branch,
    new_call,
    new_tag,
    response_for,
)
from callcenter.rooms.sip.media import RtpSession
from callcenter.rooms.sip.message import SipParseError, SipRequest, SipResponse, parse_message
from callcenter.rooms.sip.ports import PortPool
from callcenter.rooms.sip.room import SipRoom
from callcenter.rooms.sip.sdp import (
    LocalSdp,
    Negotiated,
    NoCommonCodec,
    SdpError,
    negotiate,
    parse_offer,
)
from callcenter.rooms.sip.transactions import Transactions, tx_key

log = logging.getLogger(__name__)

OnCall = Callable[[SipRoom], Awaitable[Any] | None]
_KNOWN = {"PRACK", "UPDATE", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REFER"}
_DIGITS = set("0123456789*#ABCD")


class SipEndpoint(asyncio.DatagramProtocol):
    """Answers SIP calls on `host:port` (UDP) and hands each answered call to `on_call`.

    `on_call(room)` runs once per call after the 200 OK; it may be a coroutine function
    (run as a task the endpoint owns; exceptions are logged). `port=0` picks a free port
    (read `.port` after `start()`). RTP ports come from `rtp_ports` (inclusive range) or
    the OS when it is None. `ring_s` rings before answering (a window for CANCEL).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 5060, on_call: OnCall | None = None, *,
        rtp_ports: tuple[int, int] | None = (20000, 20999), advertised_host: str | None = None,
        ring_s: float = 0.0, timers: SipTimers | None = None, jitter_depth: int = 2,
    ) -> None:
        self.host, self.port = host, port
        self.on_call = on_call
        self.advertised = advertised_host or (host if host not in ("", "0.0.0.0") else "127.0.0.1")
        self.ports = PortPool(host, rtp_ports)
        self.ring_s = ring_s
        self.timers = timers or SipTimers()
        self.jitter_depth = jitter_depth
        self.clock = RealClock()  # one media ticker for every call of this endpoint
        self.calls: dict[tuple[str, str], SipCall] = {}  # live dialogs by (Call-ID, our tag)
        self.tx = Transactions(self._send, self.timers)
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> SipEndpoint:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, self.port))
        assert self.transport is not None
        self.port = self.transport.get_extra_info("sockname")[1]
        log.info("dev SIP endpoint on udp:%s:%s", self.advertised, self.port)
        return self

    async def aclose(self) -> None:
        """End every call (BYE, or 480 while ringing; briefly awaited), close the socket."""
        for call in list(self.calls.values()):
            if call.invite.final is None:
                self.tx.final(call.invite, 480)
                self._end(call, "endpoint closing", remote=True)
            else:
                await call.room.hangup()
        pending = self.tx.pending()
        if pending:
            await asyncio.wait(pending, timeout=min(1.0, self.timers.give_up))
        await self.tx.aclose()
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    async def __aenter__(self) -> SipEndpoint:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ datagrams

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP socket error: %s", exc)  # ICMP from a peer that went away

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        if not data.strip():
            return  # CRLF keep-alive (RFC 5626)
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            log.info("bad SIP message from %s: %s", addr, exc.why)
            req = exc.partial
            if req is not None and req.method != "ACK":
                reason = f"Bad Request ({exc.why})"[:120]
                self._send(response_for(req, 400, reason, source=addr).to_bytes(), addr)
            return
        try:
            if isinstance(msg, SipResponse):
                self.tx.on_response(msg)
            elif not self.tx.retransmission(msg, addr):
                self._on_request(msg, addr)
        except Exception:  # one odd message must never take the endpoint down
            log.exception("SIP message from %s failed", addr)
            if isinstance(msg, SipRequest) and msg.method != "ACK":
                self._send(response_for(msg, 500, source=addr).to_bytes(), addr)

    def _send(self, data: bytes, addr: Addr) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    # ------------------------------------------------------------------ requests

    def _on_request(self, req: SipRequest, addr: Addr) -> None:
        to_tag = parse_address(req.headers.get("To") or "").tag
        call = self.calls.get((req.call_id, to_tag)) if to_tag else None
        m, reply = req.method, self.tx.reply
        if m == "INVITE":
            if to_tag and call is None:
                reply(req, addr, 481)
                return
            tx = self.tx.invites[tx_key(req)] = ServerInvite(tx_key(req), req, addr)
            if call is not None:
                self._reinvite(call, tx)
            else:
                self.tx.spawn(self._new_call(tx))
        elif m == "ACK":
            self._on_ack(req)
        elif m == "CANCEL":
            pending = self.tx.invites.get(tx_key(req))
            reply(req, addr, 200 if pending else 481, to_tag=pending.to_tag if pending else "")
            if pending is not None and pending.final is None:
                pending.cancelled.set()  # the ringing task answers the INVITE with 487
        elif m in ("BYE", "INFO") and call is None:
            reply(req, addr, 481)
        elif m == "BYE" and call is not None:
            reply(req, addr, 200)
            self._end(call, "caller hung up", remote=True)
        elif m == "INFO" and call is not None:
            reply(req, addr, 200)
            digit = _info_digit(req)
            if digit:
                call.room.media.on_dtmf(digit)
        elif m == "OPTIONS":
            reply(req, addr, 200, extra={"Allow": ALLOW, "Accept": "application/sdp"})
        elif m == "REGISTER":
            contact = req.headers.get("Contact") or ""
            extra = {"Contact": contact, "Expires": req.headers.get("Expires") or "3600"}
            reply(req, addr, 200, to_tag=new_tag(), extra=extra if contact else None)
        else:
            reply(req, addr, 405 if m in _KNOWN else 501, extra={"Allow": ALLOW})

    async def _new_call(self, tx: ServerInvite) -> None:
        req = tx.request
        self.tx.provisional(tx, 100)
        delayed = not req.body  # no offer: ours goes in the 200, their answer in the ACK
        try:
            neg = (Negotiated("PCMU", 0, 101, ("0.0.0.0", 0), "sendrecv") if delayed
                   else negotiate(parse_offer(req.body)))
        except NoCommonCodec as exc:
            self.tx.final(tx, 488, extra={"Warning": f'305 callcenter "{exc}"'})
            return
        except SdpError as exc:
            self.tx.final(tx, 400, f"Bad Request ({exc})")
            return
        tx.to_tag = new_tag()
        media = RtpSession(self.clock, neg, on_dtmf=lambda _d: None,
                           jitter_depth=self.jitter_depth)
        try:
            await self.ports.open(media)
        except OSError as exc:
            log.warning("no RTP port for call %s: %s", req.call_id, exc)
            self.tx.final(tx, 503, extra={"Retry-After": "5"})
            return
        call = self._make_call(tx, media, delayed)
        self.tx.provisional(tx, 180, {"Contact": self._contact(tx)})
        if self.ring_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tx.cancelled.wait(), self.ring_s)
        if tx.cancelled.is_set():
            self.tx.final(tx, 487)
            self._end(call, "cancelled", remote=True)
            return
        self._answer(tx, call, call.sdp.offer() if delayed else call.sdp.answer(neg))
        media.start()
        if self.on_call is not None:
            result = self.on_call(call.room)
            if inspect.isawaitable(result):
                self.tx.spawn(_logged(result, call.room.name))

    def _make_call(self, tx: ServerInvite, media: RtpSession, delayed: bool) -> SipCall:
        call = new_call(tx, media, LocalSdp(self.advertised, media.port), self._send_bye,
                        delayed_offer=delayed)
        self.calls[(call.call_id, call.local_tag)] = call
        return call

    def _answer(self, tx: ServerInvite, call: SipCall, sdp: bytes) -> None:
        def no_ack() -> None:
            if not call.room.closed:  # RFC 3261 13.3.1.4: no ACK, so end the dialog
                self._send_bye(call)
                self._end(call, "no ACK", remote=True)

        self.tx.final(tx, 200, body=sdp, on_no_ack=no_ack,
                      extra={"Contact": self._contact(tx), "Allow": ALLOW})

    def _reinvite(self, call: SipCall, tx: ServerInvite) -> None:
        """A re-INVITE (refresh, hold, new address): 200 with our same SDP."""
        tx.to_tag = call.local_tag
        neg = call.negotiated
        if tx.request.body:
            try:
                new = negotiate(parse_offer(tx.request.body))
            except (NoCommonCodec, SdpError) as exc:
                self.tx.final(tx, 488, extra={"Warning": f'305 callcenter "{exc}"'})
                return
            # The codec stays what the call started with; address and hold state follow.
            neg = Negotiated(neg.codec, neg.payload_type,
                             new.dtmf_payload_type or neg.dtmf_payload_type,
                             new.remote, new.direction)
            call.negotiated = neg
            call.room.media.renegotiate(neg)
        call.invite = tx
        self._answer(tx, call, call.sdp.answer(neg))

    def _on_ack(self, req: SipRequest) -> None:
        tx = self.tx.ack(req)  # a stray ACK is dropped: ACKs are never answered
        call = self.calls.get((req.call_id, parse_address(req.headers.get("To") or "").tag))
        if tx is None or call is None or tx.final != 200:
            return
        call.confirmed = True
        if call.delayed_offer and req.body:
            call.delayed_offer = False
            try:
                call.negotiated = negotiate(parse_offer(req.body))
            except (NoCommonCodec, SdpError) as exc:
                log.info("call %s: unusable SDP answer in the ACK (%s)", call.call_id, exc)
                self._send_bye(call)
                self._end(call, "no usable SDP answer", remote=True)
                return
            call.room.media.renegotiate(call.negotiated)

    def _contact(self, tx: ServerInvite) -> str:
        user = parse_uri(tx.request.uri).user or "callcenter"
        return f"<sip:{user}@{self.advertised}:{self.port}>"

    # ------------------------------------------------------------------ ending calls

    def _send_bye(self, call: SipCall) -> None:
        if call.ending:
            return
        call.ending = True
        branch = new_branch()
        data = bye_for(call, (self.advertised, self.port), branch).to_bytes()
        fut = self.tx.request(data, branch, call.remote_target)
        # The dialog lives until the BYE is answered, so a crossing BYE still gets its 200.
        fut.add_done_callback(lambda _f: self.calls.pop((call.call_id, call.local_tag), None))

    def _end(self, call: SipCall, reason: str, *, remote: bool) -> None:
        """The call is over: its room closes (and its RTP port goes back to the pool)."""
        if not call.ending:
            self.calls.pop((call.call_id, call.local_tag), None)
        call.invite.acked.set()  # a 200 still being resent has no one to reach any more
        if remote:
            call.room.caller_hung_up(reason)
        else:
            call.room.close(reason)


def _info_digit(req: SipRequest) -> str:
    """The key of a SIP INFO with application/dtmf-relay (`Signal=5`), or ''."""
    if "dtmf-relay" not in (req.headers.get("Content-Type") or "").lower():
        return ""
    for line in req.body.decode("utf-8", "replace").splitlines():
        k, _, v = line.partition("=")
        if k.strip().lower() == "signal" and v.strip() in _DIGITS:
            return v.strip()
    return ""


async def _logged(aw: Awaitable[Any], name: str) -> None:
    try:
        await aw
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("on_call for %s failed", name)
