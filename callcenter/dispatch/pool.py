"""`callcenter worker --processes N`: one worker process per core, kept by a small parent.

One Python process tops out at about one core (the event loop holds the GIL), so a host
carries calls on every core only with one worker process per core. The parent here does no
call work: it starts N ordinary single-process workers (each its own LiveKit `/agent`
connection and health port), replaces one that dies (its calls fail over to the others
through the watchdog, as with any lost worker), and on SIGTERM drains them all: the signal
is forwarded, the parent waits for every child, then exits. A second SIGTERM is forwarded
too (the children stop at once and hand their calls over).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# `callcenter worker` exits 2 on a usage or configuration error: restarting cannot help.
USAGE_EXIT = 2
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """How many children, how to start one, and how long to wait for them."""

    processes: int
    child_args: tuple[str, ...]  # `callcenter worker` arguments for one child
    # Child i serves /healthz on health_port + i (8081, 8082, ...: an operator can tell
    # them apart); a taken one falls back to a free port as usual. 0: any free port.
    health_port: int = 8081
    drain_timeout_s: float = 300.0
    env: Mapping[str, str] | None = None
    # A child that dies soon after starting is restarted after a growing delay, so a broken
    # host (no LiveKit, a full disk) does not turn into a fork loop.
    restart_delay_s: float = 0.5
    max_restart_delay_s: float = 30.0
    stable_after_s: float = 30.0
    # After the drain timeout, children get this long to hand calls over before SIGKILL.
    stop_grace_s: float = 15.0


def child_command(args: Sequence[str], health_port: int) -> list[str]:
    """The command line of one child worker (a single-process `callcenter worker`).

    `--pool-child` keeps the child from repeating what the parent already told the operator.
    """
    return [sys.executable, "-m", "callcenter", "worker", "--processes", "1", "--pool-child",
            "--health-port", str(health_port), *args]


def _die_with_parent() -> None:
    # Runs in the child before exec: if the parent is SIGKILLed, the child gets SIGTERM
    # and drains, instead of living on unwatched.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class WorkerPool:
    """Starts, watches and drains `processes` child workers. `run()` returns the exit code."""

    def __init__(self, opts: PoolOptions) -> None:
        if opts.processes < 1:
            raise ValueError(f"--processes must be at least 1, got {opts.processes}")
        self.opts = opts
        self.children: dict[int, asyncio.subprocess.Process] = {}
        self.restarts = 0
        self._draining = False
        self._signals = 0
        self._drained = asyncio.Event()  # set on the first signal: wakes restart back-offs
        self._codes: list[int] = []
        self._fatal: int | None = None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.children.values() if p.returncode is None]

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.on_signal)
        killer: asyncio.Task[None] | None = None
        try:
            slots = [loop.create_task(self._keep(i)) for i in range(self.opts.processes)]
            log.info("worker pool: %d processes (parent pid %d)", self.opts.processes,
                     os.getpid())
            done: asyncio.Future[Any] = asyncio.gather(*slots)
            # Once draining, a child that never finishes is stopped after the drain timeout.
            waiter: asyncio.Future[Any] = loop.create_task(self._drained.wait())
            await asyncio.wait([done, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not done.done():
                killer = loop.create_task(self._stop_late())
                await done
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if killer is not None:
                killer.cancel()
            for proc in self.children.values():
                if proc.returncode is None:  # only on an error in the parent itself
                    proc.kill()
                    await proc.wait()
        if self._fatal is not None:
            return self._fatal
        # Killed by the forwarded SIGTERM itself: the child was still starting (its drain
        # handler not installed yet), so it had no calls to lose.
        return 0 if all(c in (0, -signal.SIGTERM) for c in self._codes) else 1

    def on_signal(self) -> None:
        """SIGTERM/SIGINT: forward to every child (the first drains, a second stops now)."""
        self._signals += 1
        if not self._draining:
            log.info("worker pool: draining %d children", len(self.pids))
        self._draining = True
        self._drained.set()
        self._forward(signal.SIGTERM)

    def _forward(self, sig: int) -> None:
        for proc in self.children.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    async def _stop_late(self) -> None:
        await asyncio.sleep(self.opts.drain_timeout_s)
        log.warning("worker pool: drain timeout: stopping the children now")
        self._forward(signal.SIGTERM)  # the children's second signal: hand calls over
        await asyncio.sleep(self.opts.stop_grace_s)
        log.error("worker pool: children still running after the grace time: killing them")
        self._forward(signal.SIGKILL)

    async def _spawn(self, slot: int) -> asyncio.subprocess.Process:
        env = dict(self.opts.env) if self.opts.env is not None else None
        port = self.opts.health_port + slot if self.opts.health_port else 0
        return await asyncio.create_subprocess_exec(
            *child_command(self.opts.child_args, port), env=env,
            # Own process group: a terminal's Ctrl-C reaches the parent only, which forwards
            # it once (two signals would make a child stop instead of drain).
            start_new_session=True, preexec_fn=_die_with_parent,
        )

    async def _keep(self, slot: int) -> None:
        """Keep one child running in `slot` until the pool drains."""
        delay = self.opts.restart_delay_s
        while not self._draining:
            started = time.monotonic()
            proc = await self._spawn(slot)
            self.children[slot] = proc
            if self._draining:  # the signal came while this child was starting
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            log.info("worker pool: child %d started (pid %d)", slot, proc.pid)
            code = await proc.wait()
            if self._draining:
                self._codes.append(code)
                return
            if code == USAGE_EXIT:
                log.error("worker pool: child %d exited with a configuration error (exit %d):"
                          " not restarting; stopping the pool", slot, code)
                self._fatal = code
                self.on_signal()
                return
            self.restarts += 1
            if time.monotonic() - started >= self.opts.stable_after_s:
                delay = self.opts.restart_delay_s
            log.warning("worker pool: child %d (pid %d) exited with %s; its calls fail over; "
                        "starting a new one in %.1fs", slot, proc.pid, code, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), delay)
            delay = min(delay * 2, self.opts.max_restart_delay_s)


async def run_pool(opts: PoolOptions) -> int:
    """Run a worker pool until it is drained; returns the exit code."""
    return await WorkerPool(opts).run()
