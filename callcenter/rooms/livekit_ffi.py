"""`livekit.rtc`'s native event queue, routed: each event goes to the subscribers it is for.

The SDK (1.2.x) hands every native event to every subscriber's filter (`FfiQueue.put`),
on the SDK's callback thread, holding the GIL, and wakes the subscriber's loop once per
event (`call_soon_threadsafe`: a write to the loop's self-pipe). Every `rtc.AudioStream`
and every pending `AudioSource.capture_frame` is a subscriber, and every 20 ms frame of
every stream is an event: with N calls in one process that is ~N events x ~2N filters per
frame time, which is what stops one worker process from carrying a hundred calls.

`RoutedFfiQueue` keeps the SDK's semantics and finds the targets by key instead:

- the SDK's own audio-stream and capture filters (`e.WhichOneof("message") == KIND and
  (X is None or e.KIND.FIELD == X)`, X a closure variable set once) are indexed by X,
  read from the closure; while X is still None they get every event of that kind, as the
  filter says;
- filters that read only the event's kind (a room's "everything but media") are asked
  once per kind;
- anything else (no filter, or one this module does not recognise) is asked per event;
- our own readers (`livekit_audio`) `route` a key to a callback: its events go straight
  to it, nobody else's filter is asked.

Deliveries to one loop are batched: the first event queued for a loop schedules one
drain, the events that come before it runs join it (in order), so a busy loop is woken
once per batch instead of once per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import CellType
from typing import Any

from livekit.rtc import _ffi_client as ffi
from livekit.rtc._proto import ffi_pb2 as proto_ffi
from livekit.rtc._utils import Queue

from callcenter.rooms.livekit_ffi_buffers import drop_frame_buffer

log = logging.getLogger(__name__)

Event = proto_ffi.FfiEvent
Filter = Callable[[Event], bool]
Handler = Callable[[Event], None]
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


def event_key(item: Event) -> tuple[str | None, int | None]:
    """The event's kind and, for a keyed kind, its key (stream handle, capture id)."""
    kind: str | None = item.WhichOneof("message")
    if kind is None or (spec := _KEYED.get(kind)) is None:
        return kind, None
    return kind, getattr(getattr(item, kind), spec[0])


@dataclass
class _Keyed:
    by_key: dict[int, list[_Entry]] = field(default_factory=dict)
    unresolved: list[tuple[_Entry, CellType]] = field(default_factory=list)


class RoutedFfiQueue(ffi.FfiQueue[Event]):
    """A drop-in `FfiQueue` whose `put` costs O(targets), not O(subscribers)."""

    def __init__(self) -> None:
        super().__init__()
        self._entries: dict[int, _Entry] = {}  # id(queue) -> entry, in subscription order
        self._keyed = {kind: _Keyed() for kind in _KEYED}
        self._kind_only: list[_Entry] = []
        self._kind_cache: dict[str, list[_Entry]] = {}
        self._generic: list[_Entry] = []
        self._routes: dict[tuple[str, int], tuple[asyncio.AbstractEventLoop, Handler]] = {}
        self._batches: dict[asyncio.AbstractEventLoop, list[tuple[Handler, Event]]] = {}
        # While a native object is being made its key is not known yet: its first events
        # wait here (`opening`) until it is routed.
        self._opening = 0
        self._early: dict[tuple[str, int], list[Event]] = {}

    @property  # type: ignore[override]
    def _subscribers(self) -> list[_Entry]:  # the SDK's name, for code that reads it
        return list(self._entries.values())

    @_subscribers.setter
    def _subscribers(self, _value: list[_Entry]) -> None:
        pass  # the base class's __init__ sets an empty list: the entries live in _entries

    def subscribe(
        self, loop: asyncio.AbstractEventLoop | None = None, filter_fn: Filter | None = None
    ) -> Queue[Event]:
        with self._lock:
            queue: Queue[Event] = Queue()
            self._add((queue, loop or asyncio.get_event_loop(), filter_fn))
            return queue

    def _add(self, entry: _Entry) -> None:
        self._entries[id(entry[0])] = entry
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
            entry = self._entries.pop(id(queue), None)
            if entry is None:
                return
            how = _classify(entry[2])
            if how is None:
                self._generic = [e for e in self._generic if e[0] is not queue]
            elif how[1] is None:
                self._kind_only = [e for e in self._kind_only if e[0] is not queue]
                self._kind_cache.clear()
            else:
                keyed = self._keyed[how[0]]
                key = how[1].cell_contents
                bucket = keyed.by_key.get(key) if key is not None else None
                if bucket is not None and any(e[0] is queue for e in bucket):
                    rest = [e for e in bucket if e[0] is not queue]
                    if rest:
                        keyed.by_key[key] = rest
                    else:
                        del keyed.by_key[key]
                else:  # not resolved yet (or its key changed): it is still in `unresolved`
                    keyed.unresolved = [(e, c) for e, c in keyed.unresolved
                                        if e[0] is not queue]

    # --- our own readers --------------------------------------------------------------

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        """Around the request that makes a native object: its events that come before
        `route` is called for its key are kept for it."""
        with self._lock:
            self._opening += 1
        try:
            yield
        finally:
            with self._lock:
                self._opening -= 1
                if not self._opening:
                    early, self._early = self._early, {}
                    for events in early.values():
                        for e in events:  # nobody took them: free what they hold
                            drop_frame_buffer(e)

    def route(self, kind: str, key: int, loop: asyncio.AbstractEventLoop, fn: Handler) -> None:
        """Every `kind` event with `key` goes to `fn`, called on `loop`, and nowhere else."""
        with self._lock:
            self._routes[(kind, key)] = (loop, fn)
            for e in self._early.pop((kind, key), ()):
                self._post(loop, fn, e)

    def unroute(self, kind: str, key: int) -> None:
        with self._lock:
            self._routes.pop((kind, key), None)

    # --- delivery -----------------------------------------------------------------------

    def targets(self, item: Event) -> list[_Entry]:
        """The SDK subscribers `item` goes to (what each one's filter would say)."""
        kind, key = event_key(item)
        out: list[_Entry] = []
        keyed = self._keyed.get(kind) if kind is not None else None
        if keyed is not None:
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
            if key is not None:
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
            kind, key = event_key(item)
            if kind is not None and key is not None:
                route = self._routes.get((kind, key))
                if route is not None:
                    self._post(route[0], route[1], item)
                    return
            targets = self.targets(item)
            for queue, loop, _ in targets:
                self._post(loop, queue.put_nowait, item)
            if not targets and self._opening and kind is not None and key is not None:
                self._early.setdefault((kind, key), []).append(item)

    def _post(self, loop: asyncio.AbstractEventLoop, fn: Handler, item: Event) -> None:
        batch = self._batches.get(loop)
        if batch is None:
            batch = self._batches[loop] = []
        if not batch:
            try:
                loop.call_soon_threadsafe(self._drain, loop)
            except Exception as exc:  # a closed loop: as the SDK, log and go on
                log.error("error putting to queue: %s", exc)
                return
        batch.append((fn, item))

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch = self._batches.pop(loop, None)
        for fn, item in batch or ():
            try:
                fn(item)
            except Exception:  # one bad handler must not lose the others' events
                log.exception("livekit event handler failed")


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
