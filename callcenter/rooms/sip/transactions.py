"""The transaction layer over UDP (RFC 3261 section 17), as much as a dev UAS needs.

Server side: a retransmitted request gets the same answer again (never a second call);
an INVITE's final response is resent (T1, doubling to T2) until its ACK or 64*T1.
Client side: our requests (BYE) are resent the same way until a final response.
Transactions are matched by Call-ID, From tag and CSeq (INVITE, ACK, CANCEL share it),
or by Via branch and method for other requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from callcenter.rooms.sip.address import parse_address, parse_via
from callcenter.rooms.sip.dialog import Addr, ServerInvite, SipTimers, TxKey, new_tag, response_for
from callcenter.rooms.sip.message import SipRequest, SipResponse

log = logging.getLogger(__name__)
Send = Callable[[bytes, Addr], None]


def tx_key(req: SipRequest) -> TxKey:
    return (req.call_id, parse_address(req.headers.get("From") or "").tag, req.cseq[0])


def request_key(req: SipRequest) -> tuple[str, str, str, int]:
    return (req.call_id, parse_via(req.headers.get("Via") or "").branch, req.method,
            req.cseq[0])


class Transactions:
    def __init__(self, send: Send, timers: SipTimers) -> None:
        self.send = send
        self.timers = timers
        self.invites: dict[TxKey, ServerInvite] = {}
        self._answered: dict[tuple[str, str, str, int], tuple[bytes, float]] = {}
        self._client: dict[str, asyncio.Future[SipResponse]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ server side

    def retransmission(self, req: SipRequest, addr: Addr) -> bool:
        """Answer a retransmitted request again; True when it was one."""
        self._sweep()
        if req.method == "INVITE":
            tx = self.invites.get(tx_key(req))
            if tx is None:
                return False
            if tx.last is not None:
                self.send(tx.last, addr)
            return True
        if req.method == "ACK":
            return False
        cached = self._answered.get(request_key(req))
        if cached is not None:
            self.send(cached[0], addr)
        return cached is not None

    def reply(self, req: SipRequest, addr: Addr, status: int, reason: str = "", *,
              to_tag: str = "", extra: dict[str, str] | None = None) -> None:
        """Answer a non-INVITE request (kept for its retransmissions for 64*T1)."""
        data = response_for(req, status, reason, to_tag=to_tag, source=addr,
                            extra=extra).to_bytes()
        self._answered[request_key(req)] = (data, self._now() + self.timers.give_up)
        self.send(data, addr)

    def provisional(self, tx: ServerInvite, status: int, extra: dict[str, str] | None = None
                    ) -> None:
        tx.last = response_for(tx.request, status, to_tag=tx.to_tag, source=tx.addr,
                               extra=extra).to_bytes()
        self.send(tx.last, tx.addr)

    def final(
        self, tx: ServerInvite, status: int, reason: str = "", *, body: bytes = b"",
        extra: dict[str, str] | None = None, on_no_ack: Callable[[], None] | None = None,
    ) -> None:
        tx.final = status
        tx.last = response_for(
            tx.request, status, reason, to_tag=tx.to_tag or new_tag(), source=tx.addr,
            body=body, content_type="application/sdp" if body else "", extra=extra,
        ).to_bytes()
        tx.expires = self._now() + self.timers.give_up
        self.send(tx.last, tx.addr)
        self.spawn(self._until_ack(tx, on_no_ack))

    def ack(self, req: SipRequest) -> ServerInvite | None:
        tx = self.invites.get(tx_key(req))
        if tx is not None:
            tx.acked.set()
        return tx

    async def _until_ack(self, tx: ServerInvite, on_no_ack: Callable[[], None] | None) -> None:
        interval, waited = self.timers.t1, 0.0
        while waited < self.timers.give_up:
            try:
                await asyncio.wait_for(tx.acked.wait(), interval)
                return
            except TimeoutError:
                waited += interval
            if tx.last is not None:
                self.send(tx.last, tx.addr)
            interval = min(2 * interval, self.timers.t2)
        log.info("no ACK for %s %s in %.1f s", tx.final, tx.request.call_id, waited)
        if on_no_ack is not None:
            on_no_ack()

    # ------------------------------------------------------------------ client side

    def request(self, data: bytes, branch: str, dest: Addr) -> asyncio.Future[SipResponse]:
        """Send a non-INVITE request and resend it until a final response (Timer E/F)."""
        fut: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self._client[branch] = fut
        self.spawn(self._resend(data, branch, dest, fut))
        return fut

    async def _resend(self, data: bytes, branch: str, dest: Addr,
                      fut: asyncio.Future[SipResponse]) -> None:
        interval, waited = self.timers.t1, 0.0
        try:
            while waited < self.timers.give_up and not fut.done():
                self.send(data, dest)
                try:
                    await asyncio.wait_for(asyncio.shield(fut), interval)
                except TimeoutError:
                    waited += interval
                    interval = min(2 * interval, self.timers.t2)
        finally:
            self._client.pop(branch, None)
            if not fut.done():
                fut.cancel()

    def on_response(self, resp: SipResponse) -> None:
        try:
            branch = parse_via(resp.headers.get("Via") or "").branch
        except ValueError:
            return
        fut = self._client.get(branch)
        if fut is not None and not fut.done() and resp.status >= 200:
            fut.set_result(resp)

    def pending(self) -> list[asyncio.Future[SipResponse]]:
        return list(self._client.values())

    # ------------------------------------------------------------------ housekeeping

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def aclose(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _sweep(self) -> None:
        now = self._now()
        for rk in [k for k, (_, exp) in self._answered.items() if exp < now]:
            del self._answered[rk]
        for tk in [k for k, tx in self.invites.items() if tx.expires < now]:
            del self.invites[tk]
