"""RedisControlBus: call control across worker processes, fenced by the dispatch store's leases.

Keys, under the checkpoint store's prefix and naming (so per-deployment and per-test prefixes
apply):
- `ctl:<call>`      the call's inbox: a list of "<deadline_ms> <json>" entries;
- `ctlsrv:<call>`   who serves the call's commands now ("worker|token"), refreshed with a TTL;
- `ctlwake:<worker>` call ids with new commands, which that worker's reader blocks on;
- `ctlreply:<id>`   the answer to one request, which its sender blocks on.

Sending pushes to the call's inbox in one script that also tells whether the call lives (not
`done`, and served, leased or still `active`): a finished or unknown call answers `CallNotLive`
at once; a call between holders (starting, failing over) keeps the command until its deadline,
and the next holder takes it when it starts serving.

Fencing: the serving side pops a command and checks, in the same script, that its lease token
is still the call's current one (the store's own ownership test). If not, it answers `NotOwner`
without running the command. Each entry is popped once, so a command runs at most once, and a
fenced holder never runs one. Deadlines use Redis's clock, so hosts' clocks need not agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError

from callcenter.control.bus import DEFAULT_TIMEOUT_S, CommandHandler, execute
from callcenter.control.commands import Command, CommandResult, parse_command
from callcenter.control.errors import (
    CallNotLive,
    CommandTimeout,
    CommandUnsupported,
    ControlError,
    NotOwner,
    from_wire,
)
from callcenter.dispatch.outage import OutageLog, is_outage
from callcenter.dispatch.redis_store import OWNS_LUA, RedisCheckpointStore
from callcenter.dispatch.store import Lease

log = logging.getLogger(__name__)

# KEYS: done, srv, lease, active, inbox. ARGV: call_id, entry_json ('' = only look), timeout_ms,
# keep_ms. Returns {state, serving holder, pushed entry}; state 0 = not live, 1 = served,
# 2 = live but nobody serves it right now.
_SEND = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, '', ''} end
local srv = redis.call('GET', KEYS[2])
local state = 1
if not srv then
  srv = ''
  if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then
    return {0, '', ''}
  end
  state = 2
end
if ARGV[2] == '' then return {state, srv, ''} end
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local entry = string.format('%d', deadline) .. ' ' .. ARGV[2]
redis.call('RPUSH', KEYS[5], entry)
redis.call('PEXPIRE', KEYS[5], ARGV[4])
return {state, srv, entry}
"""

# KEYS: lease, fence, inbox. ARGV: holder, token. Returns {entry, owns, now_ms, lease holder}.
_TAKE = (
    OWNS_LUA
    + """
local raw = redis.call('LPOP', KEYS[3])
if not raw then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ok = 0
if owns() then ok = 1 end
return {raw, ok, string.format('%d', now), redis.call('GET', KEYS[1]) or ''}
"""
)

# KEYS: lease, fence, srv. ARGV: holder, token, ttl_ms. 1: we serve the call; 0: fenced;
# -1: the store lost the fence (Redis restarted empty) and the worker's heartbeat has not
# re-established it yet: not fenced, marked on a later refresh.
_MARK = (
    OWNS_LUA
    + """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if owns() then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3])
  return 1
end
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 0
"""
)

# KEYS: srv. ARGV: holder. Stop serving, unless a newer holder already took over.
_UNMARK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

_KEEP_MS = 60_000  # inboxes, wake lists and replies outlive any sender's wait, then expire
_MIN_BLOCK_S = 0.01  # BLPOP's timeout 0 means "forever": never round down to it


@dataclass(eq=False)
class _Serving:
    bus: RedisControlBus
    lease: Lease
    handler: CommandHandler
    is_closed: bool = False
    fenced: bool = False

    @property
    def call_id(self) -> str:
        return self.lease.call_id

    @property
    def closed(self) -> bool:
        return self.is_closed

    async def aclose(self) -> None:
        if not self.is_closed:
            self.is_closed = True
            await self.bus._unregister(self)


class RedisControlBus:
    """A ControlBus over the Redis that holds the dispatch store's leases."""

    def __init__(
        self,
        store: RedisCheckpointStore,
        *,
        poll_s: float = 1.0,
        refresh_s: float = 1.0,
        serve_ttl_s: float = 5.0,
        owns_store: bool = False,
    ) -> None:
        if serve_ttl_s <= refresh_s:
            raise ValueError("serve_ttl_s must outlast refresh_s, or served calls look unserved")
        self._store = store
        self._r = store.client
        # Blocking reads stay shorter than the client's socket timeout (5 s from from_url).
        self._poll_s = poll_s
        self._refresh_s = refresh_s
        self._serve_ttl_ms = int(serve_ttl_s * 1000)
        self._owns_store = owns_store
        self._send_script = self._r.register_script(_SEND)
        self._take = self._r.register_script(_TAKE)
        self._mark = self._r.register_script(_MARK)
        self._unmark = self._r.register_script(_UNMARK)
        self._served: dict[str, _Serving] = {}
        self._outage = OutageLog(log, "call control: Redis",
                                 "commands to live calls wait until it is back")
        self._reader: asyncio.Task[None] | None = None
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._closed = False

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "cc:") -> RedisControlBus:
        """A bus of its own (the API, the console): keys as a store with `prefix` names them."""
        return cls(RedisCheckpointStore.from_url(url, prefix=prefix), owns_store=True)

    # --- sending --------------------------------------------------------------------------

    async def send(
        self, call_id: str, command: Command, *, timeout: float = DEFAULT_TIMEOUT_S
    ) -> CommandResult:
        try:
            return await self._send(call_id, command, timeout)
        except (RedisError, OSError) as exc:
            raise ControlError(
                call_id, f"call control is unavailable (Redis: {exc}); check REDIS_URL, then retry"
            ) from exc

    async def _send(self, call_id: str, command: Command, timeout: float) -> CommandResult:
        request = uuid.uuid4().hex
        body = json.dumps({"id": request, "command": command.model_dump(mode="json")})
        state, holder, entry = await self._look(call_id, body, timeout)
        if state == 0:
            raise CallNotLive(call_id)
        if state == 1:
            await self._wake(holder, call_id)
        reply_key = self._store.key("ctlreply", request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            block = max(_MIN_BLOCK_S, min(remaining, self._poll_s))
            item = await self._r.blpop([reply_key], timeout=block)  # type: ignore[misc]
            if item is not None:
                return _decode_reply(call_id, item[1])
            # Still waiting: if the call ended meanwhile, say so now rather than at the deadline.
            now_state, now_holder, _ = await self._look(call_id, "", timeout)
            if now_state == 0 and await self._withdraw(call_id, entry):
                raise CallNotLive(call_id)
            if now_state == 1 and now_holder != holder:
                holder = now_holder
                await self._wake(holder, call_id)
        # Nobody took it in time: withdraw it so it never runs late; if it was taken, its
        # answer may have landed just now.
        if not await self._withdraw(call_id, entry):
            late: bytes | None = await self._r.lpop(reply_key)  # type: ignore[misc,assignment]
            if late is not None:
                return _decode_reply(call_id, late)
        raise CommandTimeout(call_id, timeout)

    async def _look(self, call_id: str, body: str, timeout: float) -> tuple[int, str, str]:
        s = self._store
        keys = [
            s.key("done", call_id),
            s.key("ctlsrv", call_id),
            s.key("lease", call_id),
            s.active_key,
            s.key("ctl", call_id),
        ]
        args: list[str | int] = [call_id, body, int(timeout * 1000), int(timeout * 1000) + _KEEP_MS]
        state, holder, entry = await self._send_script(keys=keys, args=args)
        return int(state), _text(holder), _text(entry)

    async def _wake(self, holder: str, call_id: str) -> None:
        worker_id = holder.rsplit("|", 1)[0]
        key = self._store.key("ctlwake", worker_id)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.rpush(key, call_id)
            pipe.pexpire(key, _KEEP_MS)
            await pipe.execute()

    async def _withdraw(self, call_id: str, entry: str) -> bool:
        if not entry:
            return True
        return bool(await self._r.lrem(self._store.key("ctl", call_id), 1, entry))  # type: ignore[misc]

    # --- serving --------------------------------------------------------------------------

    async def serve(self, lease: Lease, handler: CommandHandler) -> _Serving:
        if self._closed:
            raise RuntimeError("this control bus is closed")
        if not await self._mark_one(lease):
            holder = _text(await self._r.get(self._store.key("lease", lease.call_id)))
            raise NotOwner(lease.call_id, holder)
        reg = _Serving(self, lease, handler)
        self._served[lease.call_id] = reg
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read())
        self._kick(lease.call_id)  # commands that waited while the call was between holders
        return reg

    async def _mark_one(self, lease: Lease) -> bool:
        s, c = self._store, lease.call_id
        keys = [s.key("lease", c), s.key("fence", c), s.key("ctlsrv", c)]
        args: list[str | int] = [lease.holder, lease.token, self._serve_ttl_ms]
        return int(await self._mark(keys=keys, args=args)) != 0

    async def _unregister(self, reg: _Serving) -> None:
        if self._served.get(reg.call_id) is reg:
            del self._served[reg.call_id]
        # Bounded: a Redis outage must not hold up the end of a call (the marker expires).
        key = self._store.key("ctlsrv", reg.call_id)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._unmark(keys=[key], args=[reg.lease.holder]), 2.0)

    async def _read(self) -> None:
        """Wake on new commands for our calls; every `refresh_s`, re-mark them, sweep inboxes."""
        loop = asyncio.get_running_loop()
        next_refresh = 0.0
        while self._served and not self._closed:
            try:
                if loop.time() >= next_refresh:
                    next_refresh = loop.time() + self._refresh_s
                    await self._refresh()
                workers = {r.lease.worker_id for r in self._served.values()}
                keys = sorted(self._store.key("ctlwake", w) for w in workers)
                if not keys:
                    continue
                item = await self._r.blpop(keys, timeout=self._poll_s)  # type: ignore[misc]
                if item is not None:
                    self._kick(_text(item[1]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a Redis blip: keep serving once it is back
                if is_outage(exc):
                    self._outage.failed(exc)  # one line per outage, not one per poll
                else:
                    log.exception("call control: reading commands failed")
                await asyncio.sleep(self._poll_s)
            else:
                self._outage.ok()

    async def _refresh(self) -> None:
        regs = list(self._served.values())
        s = self._store
        async with self._r.pipeline(transaction=False) as pipe:
            for r in regs:
                c = r.call_id
                keys = [s.key("lease", c), s.key("fence", c), s.key("ctlsrv", c)]
                args: list[str | int] = [r.lease.holder, r.lease.token, self._serve_ttl_ms]
                await self._mark(keys=keys, args=args, client=pipe)
                pipe.llen(s.key("ctl", c))
            results = await pipe.execute()
        for i, reg in enumerate(regs):
            marked, queued = int(results[2 * i]), int(results[2 * i + 1])
            if marked == 0 and not reg.fenced:
                # Stop taking its commands (they wait for the new holder); the runner stops
                # the call itself on its next heartbeat.
                reg.fenced = True
                log.warning("call %s: lease moved on; no longer serving its commands", reg.call_id)
            elif queued:
                self._kick(reg.call_id)  # a wake-up may have been lost (e.g. a reconnect)

    def _kick(self, call_id: str) -> None:
        reg = self._served.get(call_id)
        if reg is None or reg.fenced:
            return
        if call_id in self._drains:
            self._again.add(call_id)
            return
        task = asyncio.get_running_loop().create_task(self._drain(call_id))
        self._drains[call_id] = task
        task.add_done_callback(lambda _t: self._drains.pop(call_id, None))

    async def _drain(self, call_id: str) -> None:
        """Run the call's queued commands one at a time, in order."""
        s = self._store
        try:
            while (reg := self._served.get(call_id)) is not None and not reg.fenced:
                keys = [s.key("lease", call_id), s.key("fence", call_id), s.key("ctl", call_id)]
                taken = await self._take(keys=keys, args=[reg.lease.holder, reg.lease.token])
                if taken is None:
                    if call_id in self._again:
                        self._again.discard(call_id)
                        continue
                    return
                raw, owns, now_ms, holder = (_text(x) for x in taken)
                await self._handle(reg, raw, owns == "1", int(now_ms), holder)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: serving commands failed", call_id)

    async def _handle(self, reg: _Serving, raw: str, owns: bool, now_ms: int, holder: str) -> None:
        deadline, _, body = raw.partition(" ")
        entry: dict[str, Any] = json.loads(body)
        left_s = (int(deadline) - now_ms) / 1000
        if left_s <= 0:
            log.info("call %s: dropped a command whose sender gave up", reg.call_id)
            return
        reply: dict[str, Any]
        if not owns:
            reply = NotOwner(reg.call_id, holder).to_wire()
        else:
            try:
                command = parse_command(entry["command"])
            except ValidationError:
                kind = str(entry["command"].get("kind", "?"))
                reply = CommandUnsupported(reg.call_id, kind).to_wire()
            else:
                run = execute(reg.lease, reg.handler, command)
                try:
                    result = await asyncio.wait_for(run, left_s)
                except TimeoutError:
                    log.warning("call %s: %s command outran its sender", reg.call_id, command.kind)
                    return
                except ControlError as err:
                    reply = err.to_wire()
                else:
                    reply = {"result": result.model_dump(mode="json")}
        key = self._store.key("ctlreply", str(entry["id"]))
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(reply))
            pipe.pexpire(key, _KEEP_MS)
            await pipe.execute()

    async def aclose(self) -> None:
        self._closed = True
        for reg in list(self._served.values()):
            await reg.aclose()
        # A command already running may still answer its sender; then stop what is left.
        if self._drains:
            await asyncio.wait(list(self._drains.values()), timeout=1.0)
        tasks = [t for t in (self._reader, *self._drains.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2.0)
        if self._owns_store:
            await self._store.aclose()


def _decode_reply(call_id: str, raw: bytes | str) -> CommandResult:
    data: dict[str, Any] = json.loads(raw)
    if "result" in data:
        return CommandResult.model_validate(data["result"])
    raise from_wire(data).with_call_id(call_id)


def _text(value: bytes | str | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
