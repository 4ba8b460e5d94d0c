"""Supervisor queues and the priority scale shared by flows and brokers."""

from __future__ import annotations

from dataclasses import dataclass, field

# The flow speaks in words; the queue orders by number (higher is served first).
PRIORITIES: dict[str, int] = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def priority_value(name: str | int) -> int:
    """A flow priority ("low".."urgent") or a number, as the number routing sorts on."""
    if isinstance(name, int):
        return name
    return PRIORITIES.get(name, PRIORITIES["normal"])


@dataclass(frozen=True, slots=True)
class Queue:
    """A named supervisor queue.

    `priority` breaks ties between calls of equal priority in different queues; `skills` are
    what a supervisor needs to be offered its calls; an offer not accepted within
    `accept_timeout_s` goes to someone else; `service_level_s` is the "answered within" line
    the metrics report against.
    """

    name: str
    priority: int = 0
    skills: frozenset[str] = field(default_factory=frozenset)
    accept_timeout_s: float = 20.0
    service_level_s: float = 20.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a queue needs a name")
        if self.accept_timeout_s <= 0:
            raise ValueError(f"queue {self.name}: accept_timeout_s must be positive")


class QueueDirectory:
    """The configured queues; a queue nobody configured gets the defaults (any supervisor)."""

    def __init__(self, queues: tuple[Queue, ...] | list[Queue] = ()) -> None:
        self._by_name = {q.name: q for q in queues}

    def get(self, name: str) -> Queue:
        return self._by_name.get(name) or Queue(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)
