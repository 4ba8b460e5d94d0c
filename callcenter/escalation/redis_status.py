"""Waiting calls' status on Redis: one script reads many, one poller watches them all.

A caller on hold wants to hear when their place in line changes, and the call side wants
the moment it is offered or taken. Each waiting call polling on its own was one MULTI
(ticket, rank, recent answers) per call per poll: a hundred calls on hold, a thousand
round trips a second, competing with the offers themselves. Here a read of any number of
calls is one script call (`read_many`: each call's ticket, rank and answers read together,
so a call answered in between never shows queued without a place), reads asked for in the
same loop turn share it, and `StatusPoller` reads every watched call once per poll
interval and wakes only the waiters whose status changed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from callcenter.escalation import routing
from callcenter.escalation.broker import TicketStatus
from callcenter.escalation.redis_codec import ticket_from_hash

# KEYS: ticket hashes; ARGV[1], ARGV[2]: the key prefixes of queues and of answer lists;
# ARGV[2 + i]: the call id of KEYS[i]. A ticket's queue is in its JSON; its rank is read
# from that queue in the same step.
STATUS_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local h = redis.call('HGETALL', key)
  if #h == 0 then
    out[i] = false
  else
    local data
    for j = 1, #h, 2 do if h[j] == 'data' then data = h[j + 1] end end
    local rank, answers = false, {}
    if data then
      local q = cjson.decode(data).queue
      rank = redis.call('ZRANK', ARGV[1] .. q, ARGV[2 + i]) or false
      answers = redis.call('LRANGE', ARGV[2] .. q, 0, -1)
    end
    out[i] = {h, rank, answers}
  end
end
return out
"""


def parse_status(reply: Any) -> TicketStatus | None:
    """One call's part of the script's reply."""
    if not reply:
        return None
    flat, rank, answers = reply
    t = ticket_from_hash(dict(zip(flat[::2], flat[1::2], strict=True)))
    if t is None:
        return None
    pos = rank + 1 if t.in_queue and rank is not None else None
    return TicketStatus(t, pos, routing.expected_wait(pos, [float(a) for a in answers]))


ReadMany = Callable[[list[str]], Awaitable[list[TicketStatus | None]]]


class StatusPoller:
    """`wait_update` for every waiting call of a process, on one read per interval."""

    def __init__(self, read_many: ReadMany, *, poll_s: float) -> None:
        self._read, self._poll_s = read_many, poll_s
        self._waiters: dict[str, list[tuple[TicketStatus | None, asyncio.Future[None]]]] = {}
        self._latest: dict[str, TicketStatus | None] = {}
        self._task: asyncio.Task[None] | None = None
        self.reads = 0  # polling reads made (tests read it)

    async def wait_update(self, call_id: str, first: TicketStatus | None, timeout: float,
                          last: TicketStatus | None) -> TicketStatus | None:
        """`first` (just read) if it differs from `last`; else the status once it does,
        or at `timeout` the latest seen."""
        if first is None or first.differs_from(last) or timeout <= 0:
            return first
        fut = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(call_id, []).append((last, fut))
        self._latest[call_id] = first
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(fut), timeout)
            return self._latest.get(call_id, first)
        finally:
            self._forget(call_id, fut)

    def _forget(self, call_id: str, fut: asyncio.Future[None]) -> None:
        waiters = [w for w in self._waiters.get(call_id, []) if w[1] is not fut]
        if waiters:
            self._waiters[call_id] = waiters
        else:
            self._waiters.pop(call_id, None)
            self._latest.pop(call_id, None)

    async def _run(self) -> None:
        while self._waiters:
            await asyncio.sleep(self._poll_s)
            ids = list(self._waiters)
            if not ids:
                return
            self.reads += 1
            try:
                statuses = await self._read(ids)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis blipped: every waiter hears it, as before
                for waiters in list(self._waiters.values()):
                    for _, fut in waiters:
                        if not fut.done():
                            fut.set_exception(exc)
                return
            for call_id, st in zip(ids, statuses, strict=True):
                if call_id not in self._waiters:
                    continue
                self._latest[call_id] = st
                for last, fut in self._waiters[call_id]:
                    if not fut.done() and (st is None or st.differs_from(last)):
                        fut.set_result(None)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
