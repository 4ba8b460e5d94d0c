"""CheckpointStore on Redis: leases and fencing tokens checked atomically in Lua scripts.

Keys (prefix `cc:` by default): `lease:<call>` = "worker|token" with a TTL, `fence:<call>` the
token counter, `ckpt:<call>` a hash (data, seq, token, worker, saved_at), `active` a hash of
started-but-unfinished calls, `done:<call>` a finished marker, `worker:<id>` heartbeats.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from callcenter.dispatch.store import ActiveCall, Checkpoint, Lease, LeaseLost

# KEYS: lease, fence, active, done. ARGV: worker, ttl_ms, call_id, meta_json.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[4]) == 1 then return -2 end
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. '|' then return -1 end
local tok = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. tok, 'PX', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
return tok
"""

# The lease is ours if the fence still has our token and nobody else holds the lease key.
# KEYS: lease, fence. ARGV: holder, token, ttl_ms.
_OWNS = """
local function owns()
  if redis.call('GET', KEYS[2]) ~= ARGV[2] then return false end
  local cur = redis.call('GET', KEYS[1])
  return (not cur) or cur == ARGV[1]
end
"""

# A Redis restarted without persistence comes back with no fence for a call that a live
# worker still runs. Nobody can have taken the call since (taking it creates the fence),
# so its holder may set the fence back to its own token, with the lease and the `active`
# entry, from what it remembers: the call goes on and stays watched. Later takeovers
# still increment from that token, so fencing holds.
# KEYS: lease, fence, active. ARGV: holder, token, ttl_ms, call_id, meta_json ('' = unknown).
_RESTORE = """
local function restore()
  if redis.call('EXISTS', KEYS[2]) == 1 or ARGV[5] == '' then return false end
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  return true
end
"""

# 1: renewed; 2: re-established after the store lost its data; 0: lost.
_RENEW = (
    _OWNS
    + _RESTORE
    + """
if restore() then return 2 end
if not owns() then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""
)

# KEYS: lease, fence, active, ckpt. ARGV: holder, token, ttl_ms, call_id, meta_json,
# data_json, worker, now.
_SAVE = (
    _OWNS
    + _RESTORE
    + """
restore()
if not owns() then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3], 'NX')
local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
redis.call('HSET', KEYS[4], 'data', ARGV[6], 'token', ARGV[2], 'worker', ARGV[7])
redis.call('HSET', KEYS[4], 'saved_at', ARGV[8])
return seq
"""
)

# KEYS: lease, fence, ckpt, active, done. ARGV: holder, token, retention_ms, call_id.
# A fence the store lost (restart without persistence) still lets the holder finish: the
# call must never look unfinished, or the watchdog would run it again.
_FINISH = (
    _OWNS
    + """
if redis.call('EXISTS', KEYS[2]) == 1 and not owns() then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[4], ARGV[4])
redis.call('SET', KEYS[5], '1', 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
"""
)

_RELEASE = (
    _OWNS
    + """
if redis.call('EXISTS', KEYS[2]) == 0 then return 1 end
if not owns() then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""
)

# The ownership test above, for other scripts over the same keys (call control's fencing).
OWNS_LUA = _OWNS

# Checkpoints of a call that never finishes (lost for good) still expire eventually.
_CHECKPOINT_MAX_AGE_MS = 24 * 3600 * 1000


class RedisCheckpointStore:
    """Leases and checkpoints shared by every worker through one Redis."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "cc:", lease_ttl_s: float = 2.0
    ) -> None:
        self._r = client
        self._lease_ttl_s = lease_ttl_s
        self._p = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._save = client.register_script(_SAVE)
        self._finish = client.register_script(_FINISH)
        self._release = client.register_script(_RELEASE)
        # What this worker's leases need to be re-established if Redis comes back empty.
        self._meta: dict[str, str] = {}
        self._restored: list[str] = []

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "cc:", lease_ttl_s: float = 2.0
    ) -> RedisCheckpointStore:
        client = aioredis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        return cls(client, prefix=prefix, lease_ttl_s=lease_ttl_s)

    def _k(self, kind: str, call_id: str) -> str:
        return f"{self._p}{kind}:{call_id}"

    # Call control (callcenter.control.redis_bus) fences commands against these same keys.
    @property
    def client(self) -> aioredis.Redis:
        return self._r

    def key(self, kind: str, call_id: str) -> str:
        """This store's key for one call (`lease`, `fence`, `done`, ...) or worker."""
        return self._k(kind, call_id)

    @property
    def active_key(self) -> str:
        """The hash of started-but-unfinished calls."""
        return self._p + "active"

    async def acquire(
        self, call_id: str, worker_id: str, *, room_name: str, agent_name: str, ttl_s: float
    ) -> Lease | None:
        meta = json.dumps({"room": room_name, "agent": agent_name, "worker": worker_id})
        keys = [
            self._k("lease", call_id),
            self._k("fence", call_id),
            self._p + "active",
            self._k("done", call_id),
        ]
        token = int(await self._acquire(keys=keys, args=[worker_id, _ms(ttl_s), call_id, meta]))
        if token <= 0:
            return None
        self._meta[call_id] = meta
        return Lease(call_id, worker_id, token)

    def take_restored(self) -> list[str]:
        """Calls whose lease was re-established since the last call (Redis came back empty)."""
        out, self._restored = self._restored, []
        return out

    async def renew(self, leases: Sequence[Lease], ttl_s: float) -> list[Lease]:
        if not leases:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for lease in leases:
                c = lease.call_id
                await self._renew(
                    keys=[self._k("lease", c), self._k("fence", c), self.active_key],
                    args=[lease.holder, lease.token, _ms(ttl_s), c, self._meta.get(c, "")],
                    client=pipe,
                )
            results = await pipe.execute()
        self._restored += [lease.call_id for lease, ok in zip(leases, results, strict=True)
                           if int(ok) == 2]
        lost = [lease for lease, ok in zip(leases, results, strict=True) if int(ok) == 0]
        for lease in lost:
            self._meta.pop(lease.call_id, None)
        return lost

    async def save(self, lease: Lease, data: Mapping[str, Any]) -> int:
        c = lease.call_id
        keys = [self._k("lease", c), self._k("fence", c), self.active_key, self._k("ckpt", c)]
        # A save re-creates a lapsed (but not taken over) lease; it never extends a live one,
        # which is the heartbeat's job, so a dead worker's lease still expires on time.
        args: list[str | int | float] = [
            lease.holder,
            lease.token,
            _ms(self._lease_ttl_s),
            c,
            self._meta.get(c, ""),
            json.dumps(dict(data)),
            lease.worker_id,
            time.time(),
        ]
        seq = int(await self._save(keys=keys, args=args))
        if seq < 0:
            raise LeaseLost(f"call {lease.call_id}: token {lease.token} is no longer current")
        await self._r.pexpire(keys[3], _CHECKPOINT_MAX_AGE_MS)
        return seq

    async def load(self, call_id: str) -> Checkpoint | None:
        raw: dict[bytes, bytes] = await self._r.hgetall(self._k("ckpt", call_id))  # type: ignore[misc,assignment]
        if not raw or b"data" not in raw:
            return None
        return Checkpoint(
            call_id=call_id,
            data=json.loads(raw[b"data"]),
            seq=int(raw[b"seq"]),
            token=int(raw[b"token"]),
            worker_id=raw[b"worker"].decode(),
            saved_at=float(raw[b"saved_at"]),
        )

    async def finish(self, lease: Lease, retention_s: float = 3600.0) -> None:
        c = lease.call_id
        keys = [
            self._k("lease", c),
            self._k("fence", c),
            self._k("ckpt", c),
            self._p + "active",
            self._k("done", c),
        ]
        ok = await self._finish(keys=keys, args=[lease.holder, lease.token, _ms(retention_s), c])
        self._meta.pop(c, None)
        if int(ok) != 1:
            raise LeaseLost(f"call {c}: token {lease.token} is no longer current")

    async def release(self, lease: Lease) -> None:
        keys = [self._k("lease", lease.call_id), self._k("fence", lease.call_id)]
        await self._release(keys=keys, args=[lease.holder, lease.token])
        self._meta.pop(lease.call_id, None)

    async def orphaned(self) -> list[ActiveCall]:
        active: dict[bytes, bytes] = await self._r.hgetall(self._p + "active")  # type: ignore[misc,assignment]
        if not active:
            return []
        ids = [k.decode() for k in active]
        async with self._r.pipeline(transaction=False) as pipe:
            for call_id in ids:
                # Lease first, then the finished marker: a call that finishes between the
                # HGETALL above and here has lost its lease but already has its marker.
                pipe.exists(self._k("lease", call_id))
                pipe.exists(self._k("done", call_id))
            found = await pipe.execute()
        out = []
        for i, call_id in enumerate(ids):
            has_lease, finished = found[2 * i], found[2 * i + 1]
            if not has_lease and not finished:
                meta = json.loads(active[call_id.encode()])
                out.append(ActiveCall(call_id, meta["room"], meta["agent"], meta["worker"]))
        return out

    async def claim_redispatch(self, call_id: str, ttl_s: float) -> bool:
        return bool(await self._r.set(self._k("redispatch", call_id), "1", nx=True, px=_ms(ttl_s)))

    async def worker_heartbeat(self, worker_id: str, info: Mapping[str, Any], ttl_s: float) -> None:
        await self._r.set(self._k("worker", worker_id), json.dumps(dict(info)), px=_ms(ttl_s))

    async def live_workers(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        async for key in self._r.scan_iter(match=self._p + "worker:*", count=200):
            raw = await self._r.get(key)
            if raw is not None:
                out[key.decode().rsplit(":", 1)[1]] = json.loads(raw)
        return out

    async def try_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        key = self._k("lock", name)
        if await self._r.set(key, owner, nx=True, px=_ms(ttl_s)):
            return True
        # Extend only our own lock (check-and-set so we never extend someone else's).
        script = (
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end"
        )
        return bool(await self._r.eval(script, 1, key, owner, _ms(ttl_s)))  # type: ignore[misc]

    async def aclose(self) -> None:
        await self._r.aclose()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
