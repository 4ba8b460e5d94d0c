"""A call holder in a process of its own, for the cross-process call-control tests.

    python holder.py REDIS_URL PREFIX CALL_ID MODE

MODE `hold`: take the call's lease, keep it renewed, serve commands; a Hangup ends the call
(serving stops, the lease is finished) and the process.
MODE `stall`: take a short lease and never renew it, as a stalled worker would; it refreshes
its serving marker rarely, so commands keep reaching it after another worker took the call.

Every command its handler runs is appended to `<PREFIX>test:ran:<CALL_ID>` as "<pid> <kind>".
Prints "ready <token>" once it serves the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from callcenter.control import Command, CommandResult, Hangup
from callcenter.control.redis_bus import RedisControlBus
from callcenter.dispatch.redis_store import RedisCheckpointStore


async def main(url: str, prefix: str, call_id: str, mode: str) -> None:
    store = RedisCheckpointStore.from_url(url, prefix=prefix)
    stall = mode == "stall"
    bus = (
        RedisControlBus(store, refresh_s=30.0, serve_ttl_s=60.0)
        if stall
        else RedisControlBus(store, poll_s=0.2, refresh_s=0.2)
    )
    ttl_s = 0.5 if stall else 2.0
    lease = await store.acquire(
        call_id, f"w-holder-{os.getpid()}", room_name=call_id, agent_name="callcenter", ttl_s=ttl_s
    )
    assert lease is not None, "another worker holds the call"
    ended = asyncio.Event()
    ran_key = f"{prefix}test:ran:{call_id}"

    async def handler(command: Command) -> CommandResult:
        await store.client.rpush(ran_key, f"{os.getpid()} {command.kind}")  # type: ignore[misc]
        if isinstance(command, Hangup):
            ended.set()
        return CommandResult(data={"pid": os.getpid(), "kind": command.kind})

    handle = await bus.serve(lease, handler)
    print(f"ready {lease.token}", flush=True)
    while not ended.is_set():
        if not stall:
            assert not await store.renew([lease], ttl_s), "lost the lease"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), 0.3)
    await handle.aclose()
    await store.finish(lease)
    await bus.aclose()  # lets the Hangup's answer reach its sender first
    await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
