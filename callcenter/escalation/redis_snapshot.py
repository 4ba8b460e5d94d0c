"""A routing pass's read in one Lua call: every queued ticket and every supervisor.

Why a script: read from Python this is five round trips and a pipeline of one HMGET per
ticket and per supervisor, and packing those commands was most of a routing pass's CPU
(the pass sits between a call's arrival and its supervisor's ring). Redis walks the keys
itself and sends one reply that hiredis parses in C. It is also one consistent read.
The ticket and presence keys are derived from ids inside the script, not passed in KEYS:
the set of keys is what the script discovers (this broker is for a single Redis, not a
cluster; every other script declares its keys).
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from callcenter.escalation.redis_codec import PRESENCE_FIELDS, TICKET_FIELDS

_SNAPSHOT = """
local p = ARGV[1]
local tfields = cjson.decode(ARGV[3])
local sfields = cjson.decode(ARGV[4])
local tickets = {}
if ARGV[2] == '1' then
  local names = redis.call('SMEMBERS', KEYS[1])
  table.sort(names)
  for _, q in ipairs(names) do
    for _, id in ipairs(redis.call('ZRANGE', p .. 'q:' .. q, 0, -1)) do
      tickets[#tickets + 1] = redis.call('HMGET', p .. 't:' .. id, unpack(tfields))
    end
  end
end
local sups = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  sups[#sups + 1] = id
  sups[#sups + 1] = redis.call('HMGET', p .. 's:' .. id, unpack(sfields))
end
return {tickets, sups}
"""

Rows = list[dict[str, str]]


def register_snapshot(client: aioredis.Redis) -> AsyncScript:
    return client.register_script(_SNAPSHOT)


def snapshot_args(prefix: str, with_tickets: bool) -> list[str]:
    """ARGV for the script; `prefix` is what `k(kind, id)` puts before `<kind>:<id>`."""
    return [prefix, "1" if with_tickets else "0", json.dumps(TICKET_FIELDS),
            json.dumps(PRESENCE_FIELDS)]


def _row(fields: tuple[str, ...], values: list[Any]) -> dict[str, str]:
    return {f: v for f, v in zip(fields, values, strict=True) if v is not None}


def parse_snapshot(reply: list[Any]) -> tuple[Rows, list[tuple[str, dict[str, str]]]]:
    """(ticket hashes in queue order, (supervisor id, presence hash) pairs)."""
    raw_tickets, raw_sups = reply
    tickets = [_row(TICKET_FIELDS, r) for r in raw_tickets or []]
    sups = [
        (str(raw_sups[i]), _row(PRESENCE_FIELDS, raw_sups[i + 1]))
        for i in range(0, len(raw_sups or []), 2)
    ]
    return tickets, sups
