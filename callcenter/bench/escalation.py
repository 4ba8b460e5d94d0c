"""`callcenter bench escalation`: how fast a queued call rings a supervisor, and that two
supervisors never both get one call.

- `offer_ms`: enqueue -> the supervisor's `next_offer` returns, with `calls` escalations
  arriving at once and as many supervisors waiting, the routing loop running as in
  production. Repeated `rounds` times.
- `double_takes`: for every offered call, the offered supervisor accepts while a rival takes
  it from the console list, at the same moment; a call with two winners is a double take
  (must be 0). `no_winner` counts calls nobody got (also 0).
Runs on the in-process broker, and on Redis when a URL is given.
- `call_side` (`escalation_call`): connect_ms (accept -> the supervisor's audio reaching the
  caller), ai_quiet_ms and handback_ms (hand back -> first AI audio), on real CallSessions
  in local rooms.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from callcenter.escalation import (
    EscalationBroker,
    InProcessEscalationBroker,
    Offer,
    Presence,
    Queue,
    SupervisorStatus,
    Ticket,
    run_routing,
)
from callcenter.escalation.metrics import percentile

Progress = Callable[[str], None]
QUEUE = Queue("bench", accept_timeout_s=30.0)


async def _one_round(
    broker: EscalationBroker, sups: list[str], round_no: int
) -> tuple[list[float], int, int]:
    """One burst: every supervisor waits, `len(sups)` calls arrive at once."""
    enqueued: dict[str, float] = {}
    offers: list[tuple[Offer, float]] = []

    async def supervisor(sup: str) -> None:
        offer = await broker.next_offer(sup, 30.0)
        if offer is not None:
            offers.append((offer, time.perf_counter()))

    async def arrive(call_id: str) -> None:
        enqueued[call_id] = time.perf_counter()
        await broker.enqueue(Ticket(call_id, QUEUE.name))

    waiting = [asyncio.ensure_future(supervisor(s)) for s in sups]
    await asyncio.sleep(0.05)  # everyone is listening before the burst
    await asyncio.gather(*(arrive(f"r{round_no}-c{i}") for i in range(len(sups))))
    await asyncio.gather(*waiting)
    offer_ms = [1000 * (t - enqueued[o.call_id]) for o, t in offers]

    results = await asyncio.gather(*(
        asyncio.gather(broker.accept(o.offer_id, o.supervisor_id), broker.take(o.call_id, "rival"))
        for o, _t in offers
    ))
    wins = [sum(r is not None for r in pair) for pair in results]
    await asyncio.gather(*(broker.end(o.call_id) for o, _t in offers))
    return offer_ms, sum(1 for w in wins if w > 1), sum(1 for w in wins if w == 0)


async def measure(broker: EscalationBroker, calls: int, rounds: int) -> dict[str, Any]:
    sups = [f"s{i:03d}" for i in range(calls)]
    await asyncio.gather(*(broker.heartbeat(Presence(s)) for s in sups))
    # The rival only picks from the list: busy, so routing never offers it anything.
    await broker.heartbeat(
        Presence("rival", status=SupervisorStatus.BUSY, capacity=calls * rounds)
    )
    stop = asyncio.Event()
    router = asyncio.ensure_future(run_routing(broker, interval_s=0.25, stop=stop))
    offer_ms: list[float] = []
    double = missed = 0
    try:
        for n in range(rounds):
            ms, d, m = await _one_round(broker, sups, n)
            offer_ms += ms
            double += d
            missed += m
            await asyncio.gather(*(broker.heartbeat(Presence(s)) for s in sups))
    finally:
        stop.set()
        await asyncio.wait_for(router, 5.0)
    return {
        "offer_ms": {
            "p50": percentile(offer_ms, 50),
            "p99": percentile(offer_ms, 99),
            "max": round(max(offer_ms), 3) if offer_ms else None,
            "offers": len(offer_ms),
        },
        "double_takes": double,
        "no_winner": missed,
        "concurrent_escalations": calls,
        "rounds": rounds,
    }


async def _on_redis(url: str, calls: int, rounds: int) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from callcenter.escalation.redis_broker import RedisEscalationBroker

    prefix = f"ccbench:{uuid.uuid4().hex[:8]}:"
    broker = RedisEscalationBroker.from_url(url, [QUEUE], prefix=prefix)
    try:
        return await measure(broker, calls, rounds)
    finally:
        await broker.aclose()
        r = aioredis.Redis.from_url(url)
        keys = [k async for k in r.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await r.delete(*keys)
        await r.aclose()


async def run_escalation_bench(
    *,
    redis_url: str | None,
    calls: int = 100,
    rounds: int = 5,
    progress: Progress = lambda _m: None,
    call_side_calls: int = 30,
) -> dict[str, Any]:
    """Both brokers; Redis is skipped (with the reason) without a URL; then the call side."""
    from callcenter.bench.escalation_call import measure_call_side

    runs: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "in_process": lambda: measure(InProcessEscalationBroker([QUEUE]), calls, rounds),
    }
    if redis_url:
        runs["redis"] = lambda: _on_redis(redis_url, calls, rounds)
    result: dict[str, Any] = {}
    for name, run in runs.items():
        progress(f"{name}: {rounds} bursts of {calls} escalations to {calls} supervisors")
        result[name] = await run()
    if not redis_url:
        result["redis"] = {"skipped": "needs Redis: set REDIS_URL or pass --redis"}
    result["double_takes"] = sum(r.get("double_takes", 0) for r in result.values())
    progress(f"call side: {call_side_calls} calls escalated, taken and handed back")
    side = await measure_call_side(calls=call_side_calls)
    result["call_side"] = side
    result["connect_ms"], result["handback_ms"] = side["connect_ms"], side["handback_ms"]
    return result


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
