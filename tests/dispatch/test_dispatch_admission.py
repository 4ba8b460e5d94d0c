"""Admission by call slots and CPU headroom."""

from __future__ import annotations

import pytest

from callcenter.dispatch.admission import Admission, CpuMeter


class FakeClocks:
    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0


def test_admission_refuses_when_slots_are_full() -> None:
    adm = Admission(max_calls=2, cpu_threshold=0.9)
    assert adm.accepts(1)
    assert not adm.accepts(2)
    assert adm.load(1) == pytest.approx(0.5)


def test_admission_refuses_without_cpu_headroom_and_recovers() -> None:
    c = FakeClocks()
    meter = CpuMeter(clock=lambda: c.wall, cpu_clock=lambda: c.cpu)
    adm = Admission(max_calls=10, cpu_threshold=0.8, cpu=meter)
    c.wall, c.cpu = 1.0, 0.9  # 90% of a core over the last second
    meter.sample()
    assert not adm.accepts(0)
    assert adm.load(0) == 1.0
    c.wall, c.cpu = 2.0, 1.2  # 30% over the next second
    meter.sample()
    assert adm.accepts(0)
    assert adm.load(0) == pytest.approx(0.3 / 0.8)


def test_admission_rejects_nonsense_settings_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="max_calls must be at least 1"):
        Admission(max_calls=0)
    with pytest.raises(ValueError, match="fraction of a core"):
        Admission(cpu_threshold=0)
