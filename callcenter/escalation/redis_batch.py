"""Commands from concurrent coroutines sent to Redis together, one pipeline per loop turn.

Why: redis-py spends far more CPU per call (a pooled connection checked out and back, a
timeout context, one socket write and read) than per command. A burst of escalations is a
hundred coroutines each making the same small call at the same moment; sent one by one they
also need a hundred connections. Queued for one event-loop turn and sent as one pipeline
they cost one connection, one write and one read, and every command is still run on its
own (a pipeline without MULTI: this is not a transaction, and each reply or error goes
back to the coroutine that asked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

_MAX_BATCH = 1000  # a bigger burst goes out as several pipelines
T = TypeVar("T")
R = TypeVar("R")


class CommandBatch:
    """`await batch.call("HGETALL", key)`: the reply, as the client would parse it."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client
        # A command whose caller gave up before the pipeline left is not sent.
        self._gather: TurnGather[tuple[Any, ...], Any] = TurnGather(
            self._pipeline, max_items=_MAX_BATCH, skip_cancelled=True)

    async def call(self, *args: Any) -> Any:
        return await self._gather.run(args)

    async def call_many(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Several commands in the same pipeline, replies in order (no task per command)."""
        return list(await asyncio.gather(*(self._gather.submit(c) for c in commands)))

    async def script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA through the batch; a Redis that lost its script cache gets it again."""
        try:
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._r.script_load(script.script)
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)

    async def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        # Errors come back in place (raise_on_error=False): each goes to its own caller.
        async with self._r.pipeline(transaction=False) as pipe:
            for args in commands:
                pipe.execute_command(*args)
            return list(await pipe.execute(raise_on_error=False))

    async def aclose(self) -> None:
        """Let pipelines already sent finish (their callers are waiting on them)."""
        await self._gather.aclose()


class TurnGather(Generic[T, R]):
    """Requests made in the same event-loop turn, handed to `send` as one list.

    For work that one script call can do for many callers at once (the moves of a burst,
    the inbox pops of every supervisor rung together): `send` gets the items in order and
    answers one result per item; each caller gets its own (or the error, if `send` fails).
    A result that is an exception is raised to its own caller alone (a pipeline's replies).
    With `skip_cancelled`, items whose caller gave up before the send are left out.
    """

    def __init__(self, send: Callable[[list[T]], Awaitable[list[R]]], *,
                 max_items: int = 200, skip_cancelled: bool = False) -> None:
        self._send_fn, self._max, self._skip_cancelled = send, max_items, skip_cancelled
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._scheduled = False
        self._sending: set[asyncio.Task[None]] = set()
        self.sends = 0  # how many times `send` ran (tests and the bench read it)

    async def run(self, item: T) -> R:
        return await self.submit(item)

    def submit(self, item: T) -> asyncio.Future[R]:
        """Queue `item` for this turn's send; the future gets its result."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, fut))
        if not self._scheduled:
            # After every callback already queued: the rest of the burst joins this send.
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending:
            group, self._pending = self._pending[: self._max], self._pending[self._max :]
            task = asyncio.get_running_loop().create_task(self._send(group))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        if self._skip_cancelled:
            group = [(item, fut) for item, fut in group if not fut.done()]
            if not group:
                return
        self.sends += 1
        try:
            results = await self._send_fn([item for item, _ in group])
        except asyncio.CancelledError:
            for _, fut in group:
                fut.cancel()
            raise
        except Exception as exc:  # the connection failed: every caller hears it
            for _, fut in group:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, fut), result in zip(group, results, strict=True):
            if fut.done():  # its caller was cancelled meanwhile; the work still ran
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    async def aclose(self) -> None:
        """Let sends already under way finish (their callers are waiting on them)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
