"""The Celery app for post-call work: Redis broker in production, in-memory when embedded.

Delivery guarantees come from three layers: `acks_late` + `reject_on_worker_lost` (a task
whose worker dies is redelivered; with Redis after the visibility timeout), idempotent
tasks (re-running converges on one record), and the SQL outbox (a broker that loses its
queue is refilled by the sweeper).
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from callcenter.config import Settings

QUEUE = "postcall"
PROCESS_CALL = "callcenter.postcall.process_call"
DELIVER_WEBHOOK = "callcenter.postcall.deliver_webhook"
TASK_TIME_LIMIT_S = 300
TASK_SOFT_TIME_LIMIT_S = 240


class PostcallCelery(Celery):  # type: ignore[misc]
    """A Celery app that carries the settings its tasks run with."""

    settings: Settings
    retry_base_s: float
    retry_max_s: float


def broker_url_for(settings: Settings) -> str:
    """Redis when configured, else the in-process memory transport."""
    return settings.redis_url or "memory://"


def create_app(
    settings: Settings,
    *,
    broker_url: str | None = None,
    retry_base_s: float = 2.0,
    retry_max_s: float = 120.0,
    register_tasks: bool = True,
) -> PostcallCelery:
    """A configured app; with `register_tasks` it can also run as a worker."""
    broker = broker_url or broker_url_for(settings)
    app = PostcallCelery("callcenter.postcall", broker=broker, set_as_current=False)
    app.settings = settings
    app.retry_base_s = retry_base_s
    app.retry_max_s = retry_max_s
    # The memory transport polls; 1 s (its default) would add a second to every call.
    transport: dict[str, Any] = {"polling_interval": 0.05}
    if broker.startswith(("redis://", "rediss://", "unix://")):
        transport = {
            # A task not acknowledged this long after delivery is given to another worker.
            # Longer than the task time limit, or slow tasks would run twice.
            "visibility_timeout": max(settings.postcall_visibility_timeout_s, 10),
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
            "retry_on_timeout": True,
        }
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_time_limit=TASK_TIME_LIMIT_S,
        task_soft_time_limit=TASK_SOFT_TIME_LIMIT_S,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        # One message at a time per process: a killed worker strands at most one call.
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_connection_timeout=5,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 3,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
    )
    if register_tasks:
        from callcenter.postcall import tasks

        tasks.register(app)
    return app
