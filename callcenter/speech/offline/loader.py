"""Load a model once per process, on first use, from whichever thread asks first.

Offline engines share one model (or native engine) across every call in the process:
loading costs up to a second and hundreds of MB, so it must happen once, and the first
callers may be several executor threads at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LazyModel(Generic[T]):
    """`get()` loads with `load` the first time and returns the same object ever after.

    A failed load raises to its caller and is tried again by the next one (a missing
    package can be installed without restarting a test session, a transient error heals).
    """

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._value: T | None = None

    def get(self) -> T:
        value = self._value
        if value is not None:
            return value
        with self._lock:
            if self._value is None:
                self._value = self._load()
            return self._value
