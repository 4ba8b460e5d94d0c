"""The call side of `callcenter bench escalation` measures on real calls (a short run)."""

from __future__ import annotations

from callcenter.bench.escalation_call import measure_call_side


async def test_call_side_bench_times_connect_quiet_and_hand_back_on_every_call() -> None:
    result = await measure_call_side(calls=3, concurrency=1)
    for name in ("connect_ms", "ai_quiet_ms", "handback_ms"):
        figures = result[name]
        assert figures["calls"] == 3, result
        # Loose bounds: a shared 2-core box, but far inside the issue's targets' order.
        assert 0 < figures["p50"] < 1000, result
