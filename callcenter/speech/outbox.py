"""The output side of an offline engine's stream: results, errors and the end, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class Outbox(Generic[T]):
    """A queue a worker task fills and the stream's consumer iterates.

    An exception put in the outbox is raised to the consumer at its place in the order;
    `end()` finishes the iteration; `drop()` discards what is still queued (a cancelled
    utterance must not keep playing).
    """

    def __init__(self) -> None:
        self._q: asyncio.Queue[T | BaseException | object] = asyncio.Queue()

    def put(self, item: T | BaseException) -> None:
        self._q.put_nowait(item)

    def end(self) -> None:
        self._q.put_nowait(_END)

    def drop(self) -> None:
        while not self._q.empty():
            self._q.get_nowait()

    async def __aiter__(self) -> AsyncIterator[T]:
        while True:
            item = await self._q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]  # only T, errors and _END are ever put
