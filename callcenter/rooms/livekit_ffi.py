"""`livekit.rtc`'s native event queue, routed: each event goes to the subscribers it is for.

The SDK (1.2.x) hands every native event to every subscriber's filter (`FfiQueue.put`),
on the SDK's callback thread, holding the GIL. Every `rtc.AudioStream` and every pending
`AudioSource.capture_frame` is a subscriber, and every 20 ms frame of every stream is an
event: with N calls in one process that is ~N events x ~2N filters per frame time, which
is what stops one worker process from carrying a hundred calls (200 loopback streams:
one in seven frames delivered on time; see `bench voice --room livekit`).

`RoutedFfiQueue` keeps the SDK's semantics and finds the targets by key instead:

- the SDK's own audio-stream and capture filters (`e.WhichOneof("message") == KIND and
  (X is None or e.KIND.FIELD == X)`, X a closure variable set once) are indexed by X,
  read from the closure; while X is still None they get every event of that kind, as the
  filter says;
- filters that read only the event's kind (a room's "everything but media") are asked
  once per kind;
- anything else (no filter, or one this module does not recognise) is asked per event,
  as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CellType
from typing import Any

from livekit.rtc import _ffi_client as ffi
from livekit.rtc._proto import ffi_pb2 as proto_ffi
from livekit.rtc._utils import Queue

log = logging.getLogger(__name__)

Event = proto_ffi.FfiEvent
Filter = Callable[[Event], bool]
_Entry = tuple[Any, asyncio.AbstractEventLoop, Filter | None]  # (queue, loop, filter)

# The keyed kinds: event kind -> (its message field holding the key, the closure name).
_KEYED = {
    "audio_stream_event": ("stream_handle", "handle_id"),
    "capture_audio_frame": ("async_id", "async_id"),
}


def _classify(fn: Filter | None) -> tuple[str, CellType | None] | None:
    """("kind", None) for a filter of the event kind only, (KIND, cell) for the SDK's
    keyed filters, None for anything to ask per event."""
    if fn is None:
        return None
    code = getattr(fn, "__code__", None)
    closure = getattr(fn, "__closure__", None)
    if code is None:
        return None
    if not closure and code.co_names == ("WhichOneof",):
        return ("kind", None)
    if closure is None or len(closure) != 1:
        return None
    for kind, (attr, var) in _KEYED.items():
        if (code.co_freevars == (var,) and code.co_names == ("WhichOneof", kind, attr)
                and kind in code.co_consts and "message" in code.co_consts):
            return (kind, closure[0])
    return None


@dataclass
class _Keyed:
    by_key: dict[int, list[_Entry]] = field(default_factory=dict)
    unresolved: list[tuple[_Entry, CellType]] = field(default_factory=list)


class RoutedFfiQueue(ffi.FfiQueue[Event]):
    """A drop-in `FfiQueue` whose `put` costs O(targets), not O(subscribers)."""

    def __init__(self) -> None:
        super().__init__()
        self._keyed = {kind: _Keyed() for kind in _KEYED}
        self._kind_only: list[_Entry] = []
        self._kind_cache: dict[str, list[_Entry]] = {}
        self._generic: list[_Entry] = []

    def subscribe(
        self, loop: asyncio.AbstractEventLoop | None = None, filter_fn: Filter | None = None
    ) -> Queue[Event]:
        with self._lock:
            queue: Queue[Event] = Queue()
            self._add((queue, loop or asyncio.get_event_loop(), filter_fn))
            return queue

    def _add(self, entry: _Entry) -> None:
        self._subscribers.append(entry)
        how = _classify(entry[2])
        if how is None:
            self._generic.append(entry)
        elif how[1] is None:
            self._kind_only.append(entry)
            self._kind_cache.clear()
        else:
            self._keyed[how[0]].unresolved.append((entry, how[1]))

    def unsubscribe(self, queue: Queue[Event]) -> None:
        with self._lock:
            self._subscribers = [e for e in self._subscribers if e[0] is not queue]
            self._generic = [e for e in self._generic if e[0] is not queue]
            if any(e[0] is queue for e in self._kind_only):
                self._kind_only = [e for e in self._kind_only if e[0] is not queue]
                self._kind_cache.clear()
            for keyed in self._keyed.values():
                keyed.unresolved = [(e, c) for e, c in keyed.unresolved if e[0] is not queue]
                for key in [k for k, es in keyed.by_key.items() if any(e[0] is queue for e in es)]:
                    rest = [e for e in keyed.by_key[key] if e[0] is not queue]
                    if rest:
                        keyed.by_key[key] = rest
                    else:
                        del keyed.by_key[key]

    def targets(self, item: Event) -> list[_Entry]:
        """The subscribers `item` goes to (what each one's filter would say)."""
        kind: str | None = item.WhichOneof("message")
        out: list[_Entry] = []
        keyed = self._keyed.get(kind) if kind is not None else None
        if keyed is not None and kind is not None:
            if keyed.unresolved:
                waiting = []
                for entry, cell in keyed.unresolved:
                    value = cell.cell_contents
                    if value is None:
                        waiting.append((entry, cell))
                        out.append(entry)  # "X is None or ...": every event of the kind
                    else:
                        keyed.by_key.setdefault(value, []).append(entry)
                keyed.unresolved = waiting
            key = getattr(getattr(item, kind), _KEYED[kind][0])
            out.extend(keyed.by_key.get(key, ()))
        if kind is not None and self._kind_only:
            accepting = self._kind_cache.get(kind)
            if accepting is None:
                accepting = self._kind_cache[kind] = [
                    e for e in self._kind_only if _accepts(e, item)]
            out.extend(accepting)
        out.extend(e for e in self._generic if _accepts(e, item))
        return out

    def put(self, item: Event) -> None:
        with self._lock:
            for queue, loop, _ in self.targets(item):
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except Exception as exc:  # a closed loop: as the SDK, log and go on
                    log.error("error putting to queue: %s", exc)


def _accepts(entry: _Entry, item: Event) -> bool:
    fn = entry[2]
    if fn is None:
        return True
    try:
        return bool(fn(item))
    except Exception:
        return True  # the SDK delivers an event whose filter raised


def install_routed_queue() -> RoutedFfiQueue:
    """Route this process's `livekit.rtc` events (idempotent; keeps who is subscribed)."""
    client = ffi.FfiClient.instance
    current = client._queue
    if isinstance(current, RoutedFfiQueue):
        return current
    routed = RoutedFfiQueue()
    with current._lock:
        for entry in current._subscribers:
            routed._add(entry)
        client._queue = routed
    return routed
