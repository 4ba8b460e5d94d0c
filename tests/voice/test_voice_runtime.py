"""A real-time worker process: short GIL switch interval, long-lived objects frozen."""

from __future__ import annotations

import gc
import sys

import pytest

from callcenter.voice import runtime


def test_realtime_process_shortens_the_switch_interval_and_freezes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = sys.getswitchinterval()
    frozen = gc.get_freeze_count()
    keep = [[i] for i in range(1000)]  # young, alive: frozen by the call
    try:
        sys.setswitchinterval(0.005)
        runtime.realtime_process()
        assert sys.getswitchinterval() == pytest.approx(runtime.SWITCH_INTERVAL_S)
        assert gc.get_freeze_count() >= frozen + len(keep)
        # A shorter interval someone chose is left alone.
        sys.setswitchinterval(0.0002)
        runtime.realtime_process()
        assert sys.getswitchinterval() == pytest.approx(0.0002)
    finally:
        sys.setswitchinterval(before)
        gc.unfreeze()
