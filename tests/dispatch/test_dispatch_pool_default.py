"""`callcenter worker` with no `--processes`: one worker per core, as its help says."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter.cli import app
from callcenter.cli.worker import DEFAULT_PROCESSES
from callcenter.testing.livekit import FakeLiveKitServer
from tests.dispatch.test_dispatch_pool import child_pids, stop

pytestmark = pytest.mark.slow


def test_help_names_the_default_the_code_uses() -> None:
    out = CliRunner().invoke(app, ["worker", "--help"], env={"COLUMNS": "200"}).output
    assert max(1, os.cpu_count() or 1) == DEFAULT_PROCESSES
    assert f"default: the number of cores ({DEFAULT_PROCESSES} here)" in " ".join(out.split())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_without_processes_the_worker_runs_one_process_per_core(
    fake_livekit: FakeLiveKitServer, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "REDIS_"))},
        "LIVEKIT_URL": fake_livekit.url, "LIVEKIT_API_KEY": fake_livekit.api_key,
        "LIVEKIT_API_SECRET": fake_livekit.api_secret, "REDIS_URL": "", "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter", "worker", "--health-port", "0",
        "--handler", "callcenter.testing.demo:scripted_call", cwd=tmp_path, env=env)
    try:
        fa = fake_livekit.agents
        await fa.wait_for(lambda: len(fa.workers) == DEFAULT_PROCESSES, timeout=90)
        # More than one core: a parent and one child per core; one core: this is the worker.
        expected = DEFAULT_PROCESSES if DEFAULT_PROCESSES > 1 else 0
        assert len(child_pids(proc.pid)) == expected
    finally:
        await stop(proc)
