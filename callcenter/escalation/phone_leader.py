"""One phone desk per deployment: a lease on Redis that the running desk keeps renewing.

Several `callcenter api` processes (`--workers N`, or one per host) share one Redis. Each
builds a desk, but only the lease holder runs it: the desk keeps a phone that did not pick
up resting (away) in its own memory, and a second desk heartbeating the same supervisor as
available would ring them again at once. When the holder stops or dies, its lease runs out
and another process takes over within `ttl_s`.
"""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class DeskLease:
    """`acquire` / `renew` / `release` one key; only the holder's token can renew it."""

    def __init__(self, client: aioredis.Redis, key: str, *, ttl_s: float = 15.0) -> None:
        self._r, self.key, self.ttl_s = client, key, ttl_s
        self.token = uuid.uuid4().hex

    @classmethod
    def from_url(cls, url: str, prefix: str, *, ttl_s: float = 15.0) -> DeskLease:
        return cls(aioredis.Redis.from_url(url), f"{prefix}phonedesk:leader", ttl_s=ttl_s)

    def _ms(self) -> int:
        return max(int(self.ttl_s * 1000), 1)

    async def acquire(self) -> bool:
        return bool(await self._r.set(self.key, self.token, nx=True, px=self._ms()))

    async def renew(self) -> bool:
        return bool(await self._r.eval(_RENEW, 1, self.key, self.token, self._ms()))  # type: ignore[misc]

    async def release(self) -> None:
        await self._r.eval(_RELEASE, 1, self.key, self.token)  # type: ignore[misc]

    async def aclose(self) -> None:
        await self._r.aclose()
