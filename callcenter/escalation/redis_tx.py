"""One Lua script that checks guards and applies writes in a single atomic step.

Every state change of the Redis broker is a `Tx`: guards (compare-and-set on the ticket's
version, a supervisor's spare capacity, a fresh heartbeat) and the writes the move implies
(ticket hash, queue sorted set, load counters, offer key, inbox). Redis runs a script
alone, so either every guard held and every write happened, or nothing did: that is the
atomic claim. Keys go in KEYS so the script stays honest about what it touches.

Moves made at the same moment (a burst of escalations, a routing pass's offers) are sent
together: `TxQueue` gathers the Txs asked for in one event-loop turn into one script call
that applies each on its own (its guards decide for it alone) and answers each. One
command instead of a hundred: redis-py packs, sends and parses one, and Redis decodes one
spec list. Each Tx is still atomic; so, as a whole, is the call (Redis runs one script at
a time), which changes nothing for the Txs that share it.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from callcenter.escalation.redis_batch import CommandBatch, TurnGather

_APPLY = """
local function num(v) return tonumber(v) or 0 end
local function apply(spec)
local b = spec.b
for _, g in ipairs(spec.g) do
  local k = KEYS[b + g[2]]
  if g[1] == 'eq' then
    local v = redis.call('HGET', k, g[3]) or ''
    if v ~= g[4] then return 0 end
  elseif g[1] == 'min' then
    if num(redis.call('HGET', k, g[3])) < tonumber(g[4]) then return 0 end
  elseif g[1] == 'spare' then
    if redis.call('EXISTS', k) == 0 then return 0 end
    if num(redis.call('HGET', k, 'load')) >= num(redis.call('HGET', k, 'capacity')) then
      return 0
    end
  end
end
for _, o in ipairs(spec.o) do
  local k = KEYS[b + o[2]]
  local op = o[1]
  if op == 'hset' then redis.call('HSET', k, unpack(o, 3))
  elseif op == 'zadd' then redis.call('ZADD', k, o[3], o[4])
  elseif op == 'zrem' then redis.call('ZREM', k, o[3])
  elseif op == 'sadd' then redis.call('SADD', k, o[3])
  elseif op == 'setpx' then redis.call('SET', k, o[3], 'PX', o[4])
  elseif op == 'del' then redis.call('DEL', k)
  elseif op == 'pexpire' then redis.call('PEXPIRE', k, o[3])
  elseif op == 'persist' then redis.call('PERSIST', k)
  elseif op == 'push' then
    redis.call('RPUSH', k, o[3])
    redis.call('LTRIM', k, -tonumber(o[4]), -1)
  elseif op == 'ring' then
    redis.call('RPUSH', k, o[3])
    redis.call('LTRIM', k, -tonumber(o[4]), -1)
    redis.call('PUBLISH', o[5], o[6])
  elseif op == 'load' then
    if redis.call('EXISTS', k) == 1 then
      if redis.call('HINCRBY', k, 'load', o[3]) < 0 then redis.call('HSET', k, 'load', 0) end
      if o[4] ~= '' then redis.call('HSET', k, 'idle_since', o[4]) end
    end
  end
end
return 1
end
local out = {}
for i, spec in ipairs(cjson.decode(ARGV[1])) do out[i] = apply(spec) end
return out
"""

OPS = frozenset({"hset", "zadd", "zrem", "sadd", "setpx", "del", "pexpire", "persist", "push",
                 "ring", "load"})


def register(client: aioredis.Redis) -> AsyncScript:
    return client.register_script(_APPLY)


class Tx:
    """Guards and writes for one atomic step; `run` says whether the guards held."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._guards: list[list[Any]] = []
        self._ops: list[list[Any]] = []

    def _k(self, key: str) -> int:
        if key not in self._index:
            self._keys.append(key)
            self._index[key] = len(self._keys)  # Lua arrays start at 1
        return self._index[key]

    def eq(self, key: str, field: str, value: str) -> Tx:
        """Hash field equals value (a missing field counts as '')."""
        self._guards.append(["eq", self._k(key), field, value])
        return self

    def at_least(self, key: str, field: str, value: float) -> Tx:
        self._guards.append(["min", self._k(key), field, repr(float(value))])
        return self

    def spare(self, key: str) -> Tx:
        """The supervisor hash exists and its load is below its capacity."""
        self._guards.append(["spare", self._k(key)])
        return self

    def op(self, name: str, key: str, *args: str | int | float) -> Tx:
        if name not in OPS:
            raise ValueError(f"unknown Tx op {name!r}")
        self._ops.append([name, self._k(key), *(str(a) for a in args)])
        return self

    def hset(self, key: str, mapping: dict[str, str]) -> Tx:
        flat = [x for kv in mapping.items() for x in kv]
        return self.op("hset", key, *flat)

    def spec(self, base: int = 0) -> dict[str, Any]:
        """This Tx for the script, its keys at KEYS[base + 1 ...]."""
        return {"b": base, "g": self._guards, "o": self._ops}

    @property
    def keys(self) -> list[str]:
        return self._keys

    async def run(self, script: AsyncScript, batch: CommandBatch | None = None) -> bool:
        """Run now, alone (through `batch` when given): True when every guard held and the
        writes were made. `TxQueue.run` shares the call with other moves."""
        args = [json.dumps([self.spec()])]
        if batch is not None:
            reply = await batch.script(script, self._keys, args)
        else:
            reply = await script(keys=self._keys, args=args)
        return int(reply[0]) == 1


class TxQueue:
    """Txs asked for in the same event-loop turn go out as one script call (see above)."""

    def __init__(self, batch: CommandBatch, script: AsyncScript, *, max_txs: int = 200) -> None:
        self._batch, self._script = batch, script
        self._gather: TurnGather[Tx, bool] = TurnGather(self._send, max_items=max_txs)

    @property
    def calls(self) -> int:
        """Script calls sent so far."""
        return self._gather.sends

    async def run(self, tx: Tx) -> bool:
        """True when every guard of `tx` held and its writes were made."""
        return await self._gather.run(tx)

    async def _send(self, txs: list[Tx]) -> list[bool]:
        keys: list[str] = []
        specs: list[dict[str, Any]] = []
        for tx in txs:
            specs.append(tx.spec(len(keys)))
            keys.extend(tx.keys)
        reply = await self._batch.script(self._script, keys, [json.dumps(specs)])
        return [int(ok) == 1 for ok in reply]

    async def aclose(self) -> None:
        await self._gather.aclose()
