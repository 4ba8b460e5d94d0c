"""LazyModel: the offline engines' one way to load a model once per process."""

from __future__ import annotations

import threading
import time

import pytest

from callcenter.speech.offline.loader import LazyModel


def test_concurrent_first_users_share_one_load() -> None:
    loads: list[int] = []

    def load() -> object:
        loads.append(1)
        time.sleep(0.05)  # long enough for every thread to arrive while loading
        return object()

    lazy = LazyModel(load)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(lazy.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    assert len(got) == 8 and all(g is got[0] for g in got)


def test_a_failed_load_is_tried_again_by_the_next_user() -> None:
    attempts: list[int] = []

    def load() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("model file missing")
        return "model"

    lazy = LazyModel(load)
    with pytest.raises(RuntimeError, match="missing"):
        lazy.get()
    assert lazy.get() == "model"
    assert lazy.get() == "model"
    assert len(attempts) == 2
