"""The embedded worker: the same Celery tasks, consumed by a worker thread in this process.

Used when `REDIS_URL` is not set (`callcenter dev`, a laptop, the tests). The broker is
kombu's in-memory transport, so queued messages live only as long as the process; the SQL
outbox and the sweeper (started here too) cover a restart: pending calls are re-sent on
start.
"""

from __future__ import annotations

import logging
import threading
import time

from celery.worker import WorkController

from callcenter.config import Settings
from callcenter.db import engine_for
from callcenter.postcall.app import PROCESS_CALL, QUEUE, PostcallCelery, create_app
from callcenter.postcall.outbox import Sweeper
from callcenter.postcall.tasks import send_webhook

log = logging.getLogger(__name__)


class EmbeddedWorker:
    """A Celery worker (solo pool) on the memory broker, in a daemon thread."""

    def __init__(self, settings: Settings, *, retry_base_s: float = 2.0) -> None:
        self.app: PostcallCelery = create_app(
            settings, broker_url="memory://", retry_base_s=retry_base_s
        )
        self._settings = settings
        self._worker: WorkController | None = None
        self._thread: threading.Thread | None = None
        self._sweeper: Sweeper | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout_s: float = 10.0) -> None:
        """Start consuming; returns once the worker is ready."""
        if self.running:
            return
        self.app.finalize()
        worker = WorkController(
            app=self.app,
            concurrency=1,
            pool="solo",
            hostname=f"embedded-postcall@{threading.get_native_id()}",
            queues=[QUEUE],
            loglevel="WARNING",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._worker = worker
        app = self.app
        # The solo pool and the ETA timer thread look tasks up on the current/default app.
        app.set_default()

        def run() -> None:
            app.set_current()
            worker.start()

        self._thread = threading.Thread(target=run, name="postcall-worker", daemon=True)
        self._thread.start()
        # The consumer is ready when its blueprint has started every step.
        ready = threading.Event()

        def poll() -> None:
            deadline = time.monotonic() + timeout_s
            while not ready.is_set() and time.monotonic() < deadline:
                consumer = getattr(worker, "consumer", None)
                if consumer is not None and consumer.blueprint.state == 1:  # RUN
                    ready.set()
                    return
                if not self.running:
                    return
                ready.wait(0.02)

        poll()
        if not ready.is_set():
            raise RuntimeError("embedded post-call worker did not start")
        self._sweeper = Sweeper(
            engine_for(self._settings.effective_database_url),
            self.send_job,
            lambda call_id: send_webhook(self.app, call_id),
            interval_s=self._settings.postcall_sweep_interval_s,
            stale_after_s=self._settings.postcall_stale_after_s,
        )
        self._sweeper.start()
        _adopt(self)

    def send_job(self, call_id: str, reprocess: bool = False) -> None:
        """Queue `process_call` on the embedded broker."""
        self.app.send_task(PROCESS_CALL, args=[call_id], kwargs={"reprocess": reprocess})

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the sweeper, finish the running task, stop the worker thread."""
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
        if self._worker is not None and self.running:
            from celery.worker import state

            # Celery's own way to end a worker loop running in another thread.
            state.should_terminate = 0
            assert self._thread is not None
            self._thread.join(timeout_s)
            state.should_terminate = None
            # A running worker marks the whole process as "inside a task" (result.get()
            # refused everywhere); this process is not a worker any more.
            from celery._state import _set_task_join_will_block

            _set_task_join_will_block(False)
            if self._thread.is_alive():
                log.warning("embedded post-call worker did not stop within %.0fs", timeout_s)
        self._worker = None
        self._thread = None
        _release(self)


_lock = threading.Lock()
_embedded: EmbeddedWorker | None = None


def _adopt(worker: EmbeddedWorker) -> None:
    # One memory broker per process: the first running worker is the one producers use.
    global _embedded
    with _lock:
        if _embedded is None or not _embedded.running:
            _embedded = worker


def _release(worker: EmbeddedWorker) -> None:
    global _embedded
    with _lock:
        if _embedded is worker:
            _embedded = None


def ensure_started(settings: Settings) -> EmbeddedWorker:
    """The process's embedded worker, started on first use."""
    with _lock:
        current = _embedded
    if current is not None and current.running:
        return current
    worker = EmbeddedWorker(settings)
    worker.start()
    with _lock:
        return _embedded or worker


def stop_embedded() -> None:
    """Stop the process's embedded worker, if any (tests, `callcenter dev` shutdown)."""
    with _lock:
        current = _embedded
    if current is not None:
        current.stop()
