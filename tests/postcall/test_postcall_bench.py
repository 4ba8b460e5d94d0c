"""The post-call benchmark runs real workers and reports consistent numbers."""

from __future__ import annotations

import pytest

from callcenter.bench.postcall import run_postcall_bench

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_bench_reports_throughput_and_hangup_to_stored_latency(postcall_redis_url: str) -> None:
    result = run_postcall_bench(
        redis_url=postcall_redis_url, workers=2, calls=12, duration_s=2.0, load_factor=0.3
    )
    assert result["throughput_calls_per_s"] > 0
    e2s = result["end_to_stored_ms"]
    assert e2s["n"] == result["load"]["calls"] >= 1
    assert 0 < e2s["p50"] <= e2s["p95"] <= e2s["max"]
    assert result["ok"] == (e2s["p95"] <= 2000)
    assert result["utterances_per_call_avg"] > 40  # realistic length, not toy calls
