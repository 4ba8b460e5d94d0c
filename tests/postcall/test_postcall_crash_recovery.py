"""Nothing lost, nothing doubled: a real Celery worker on real Redis and PostgreSQL, killed
with SIGKILL mid-task, and Redis restarted (it keeps nothing on disk) with tasks queued.

To stop a worker "in the middle of process_call" deterministically, the test holds an
exclusive lock on `call_transcripts`: the task has loaded the call, marked its job running
and computed the record, and blocks on its first write.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, func, select

from callcenter.models import Call, CallTranscript, PostcallJob
from callcenter.postcall import enqueue_process_call, synthetic
from tests.postcall.conftest import PrivateRedis

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def env(pg_url: str, pg_engine: Engine, postcall_redis_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for worker processes and for producer settings."""
    return {
        **os.environ,
        "DATABASE_URL": pg_url,
        "REDIS_URL": postcall_redis_url,
        "DATA_DIR": str(tmp_path / "data"),
        "POSTCALL_VISIBILITY_TIMEOUT_S": "10",
        "POSTCALL_SWEEP_INTERVAL_S": "0.5",
        "POSTCALL_STALE_AFTER_S": "3",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker{len(started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter", "postcall", "worker", "--loglevel", "WARNING"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL reaches the pool too
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def settings_for(env: dict[str, str], make_settings: Any) -> Any:
    return make_settings(
        database_url=env["DATABASE_URL"],
        redis_url=env["REDIS_URL"],
        postcall_stale_after_s=3,
    )


def lock_transcripts(engine: Engine) -> tuple[Connection, Any]:
    conn = engine.connect()
    trans = conn.begin()
    conn.execute(sa.text("LOCK TABLE call_transcripts IN ACCESS EXCLUSIVE MODE"))
    return conn, trans


def blocked_on_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        n = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(n)


def job_statuses(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {j.call_id: j.status for j in session.exec(select(PostcallJob)).all()}


def assert_one_complete_record_each(engine: Engine, call_ids: list[str]) -> None:
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(CallTranscript)).one()
        assert count == len(call_ids)
        for call_id in call_ids:
            call = session.get(Call, call_id)
            transcript = session.get(CallTranscript, call_id)
            assert call is not None and call.processed_at is not None
            assert call.summary and call.disposition and "postcall" in call.metrics
            assert transcript is not None and transcript.redacted_data


def test_sigkilled_worker_mid_task_leaves_exactly_one_complete_record(
    pg_engine: Engine, env: dict[str, str], workers: Any, make_settings: Any
) -> None:
    call_id = synthetic.create_call(pg_engine, random.Random(7), outcome="escalated")
    conn, trans = lock_transcripts(pg_engine)
    try:
        first = workers()
        enqueue_process_call(call_id, settings=settings_for(env, make_settings), engine=pg_engine)
        wait_for(lambda: blocked_on_lock(pg_engine), 60, "the task to reach its first write")
        assert job_statuses(pg_engine)[call_id] == "running"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        trans.rollback()
        conn.close()
    # Killed before its transaction committed: nothing of the record exists.
    with Session(pg_engine) as session:
        assert session.get(CallTranscript, call_id) is None
        call = session.get(Call, call_id)
        assert call is not None and call.processed_at is None

    workers()
    wait_for(lambda: job_statuses(pg_engine)[call_id] == "done", 60, "the restarted worker")
    # Let the original message's redelivery (visibility timeout) arrive and be skipped.
    time.sleep(12)
    assert_one_complete_record_each(pg_engine, [call_id])
    with Session(pg_engine) as session:
        job = session.get(PostcallJob, call_id)
        assert job is not None and job.attempts == 2


def restart_redis(server: PrivateRedis) -> None:
    """Crash and restart the tests' own Redis (never the machine's)."""
    server.restart()
    client = redis.Redis.from_url(server.url, socket_connect_timeout=2)
    wait_for(lambda: _ping(client), 10, "Redis to come back")
    client.close()


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


def test_redis_restart_with_tasks_queued_loses_no_call(
    pg_engine: Engine, env: dict[str, str], workers: Any, make_settings: Any,
    private_redis: PrivateRedis,
) -> None:
    rng = random.Random(11)
    call_ids = [synthetic.create_call(pg_engine, rng) for _ in range(12)]
    settings = settings_for(env, make_settings)
    queue = redis.Redis.from_url(env["REDIS_URL"])
    conn, trans = lock_transcripts(pg_engine)
    try:
        workers()
        for call_id in call_ids:
            enqueue_process_call(call_id, settings=settings, engine=pg_engine)
        wait_for(lambda: blocked_on_lock(pg_engine), 60, "the first task to block")
        assert queue.llen("postcall") >= 10  # the rest wait in Redis
        before = queue.info("server")["run_id"]
        restart_redis(private_redis)
        # A new server that kept nothing (no RDB, no AOF): the queued messages are gone. Their
        # count is not checked: the outbox sweeper may already be re-sending the stale ones.
        assert queue.info("server")["run_id"] != before
        assert queue.info("persistence")["aof_enabled"] == 0
    finally:
        trans.rollback()
        conn.close()
    wait_for(lambda: set(job_statuses(pg_engine).values()) == {"done"}, 90, "every call processed")
    assert_one_complete_record_each(pg_engine, call_ids)
