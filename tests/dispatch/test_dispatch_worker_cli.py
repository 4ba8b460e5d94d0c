"""`callcenter worker` as an operator meets it: one clear line per problem, never a traceback.

A second worker on a host whose health port is taken keeps running on a free port and says
which; a short LIVEKIT_API_SECRET and an unreachable LiveKit are one line each, with no
secret in them; a wrong `--handler` is a usage error naming the flag.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
import typer
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from callcenter.callsession.handler import handle_call
from callcenter.cli.worker import _bindings, resolve_object
from callcenter.dispatch.connect_errors import describe_connect_error
from callcenter.dispatch.metrics import HealthServer, HealthServerError, WorkerMetrics
from callcenter.rooms.livekit import connect_livekit_room
from callcenter.rooms.livekit_keys import short_secret_notice
from callcenter.testing.demo import scripted_call

SHORT_SECRET = "shhXq7"  # distinctive, so a leak into the output is easy to find


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def healthz(port: int) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
        return r.status


async def test_a_taken_health_port_falls_back_to_a_free_one_and_says_which(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = HealthServer(WorkerMetrics(), lambda: {"draining": False})
    await first.start("127.0.0.1", 0)
    second = HealthServer(WorkerMetrics(), lambda: {"draining": False})
    with caplog.at_level(logging.WARNING):
        await second.start("127.0.0.1", first.port)
    try:
        assert second.port not in (0, first.port)
        (line,) = [r.getMessage() for r in caplog.records if "in use" in r.getMessage()]
        assert str(first.port) in line and str(second.port) in line
        assert await healthz(second.port) == 200
    finally:
        await first.stop()
        await second.stop()


async def test_an_address_the_host_lacks_is_one_clear_error() -> None:
    server = HealthServer(WorkerMetrics(), dict)
    with pytest.raises(HealthServerError, match="--health-host"):
        await server.start("192.0.2.1", 0)  # TEST-NET-1: never a local address


async def test_connection_errors_read_as_what_is_wrong_and_what_to_do() -> None:
    url = f"ws://127.0.0.1:{free_port()}/agent"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await http.ws_connect(url)
    line = describe_connect_error(refused.value, url)
    assert line.startswith(f"cannot reach LiveKit at {url} (connection refused)")
    assert "LIVEKIT_URL" in line and "ConnectionKey" not in line
    info = aiohttp.RequestInfo(URL(url), "GET", CIMultiDictProxy(CIMultiDict()), URL(url))
    denied = aiohttp.WSServerHandshakeError(info, (), status=401, message="Unauthorized")
    assert "LIVEKIT_API_KEY and LIVEKIT_API_SECRET" in describe_connect_error(denied, url)


def test_short_secrets_get_a_notice_without_the_secret() -> None:
    notice = short_secret_notice(SHORT_SECRET)
    assert notice is not None and SHORT_SECRET not in notice and "6 bytes" in notice
    assert short_secret_notice("x" * 32) is None


def test_the_worker_binds_the_production_handler_as_an_object() -> None:
    assert _bindings(None, None) == (handle_call, connect_livekit_room)
    chosen, _ = _bindings("callcenter.testing.demo:scripted_call", None)
    assert chosen is scripted_call


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("callcenter.testing.demo", "must look like package.module:attribute"),
        ("callcenter.no_such_module:x", "cannot import callcenter.no_such_module"),
        ("callcenter.testing.demo:nothing", "has no attribute 'nothing'"),
        ("callcenter.testing.demo:GOODBYE", "not a callable"),
    ],
)
def test_a_wrong_handler_string_is_a_usage_error_naming_the_flag(spec: str, says: str) -> None:
    with pytest.raises(typer.BadParameter, match=re.escape(says)) as info:
        resolve_object(spec, "--handler")
    assert info.value.param_hint == "--handler"


async def _read_until(stream: asyncio.StreamReader, pattern: str, seen: list[str]) -> str:
    while True:
        raw = await asyncio.wait_for(stream.readline(), 30.0)
        assert raw, "the worker exited early:\n" + "".join(seen)
        line = raw.decode()
        seen.append(line)
        if re.search(pattern, line):
            return line


async def test_a_second_worker_on_a_host_runs_and_every_problem_is_one_line(
    tmp_path: Path,
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "REDIS_"))},
        "LIVEKIT_URL": f"ws://127.0.0.1:{free_port()}",  # nothing listens: connection refused
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": SHORT_SECRET,
        "WORKER_HEALTH_PORT": str(port),  # held by "the first worker" (this test)
        "PYTHONWARNINGS": "default",  # show every warning a user could see
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter", "worker", "--processes", "1", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        served = await _read_until(proc.stderr, r"/healthz and /metrics on http://", seen)
        health_port = int(served.rsplit(":", 1)[1])
        assert health_port != port
        assert await healthz(health_port) == 200
        await _read_until(proc.stderr, r"cannot reach LiveKit", seen)
        proc.send_signal(signal.SIGTERM)  # drain: no calls, so it exits at once
        rest, _ = await asyncio.wait_for(proc.communicate(), 30.0)
        assert proc.returncode == 0
    finally:
        taken.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    out = "".join(seen) + (rest.decode() if rest else "")
    assert "Traceback" not in out, out
    assert SHORT_SECRET not in out, "the secret leaked into the worker's output"
    for raw in ("InsecureKeyLengthWarning", "ClientConnectorError", "ConnectionKey"):
        assert raw not in out, f"{raw} reached the log:\n{out}"
    assert len([ln for ln in seen if f"health port {port}" in ln and "in use" in ln]) == 1
    assert len([ln for ln in seen if "LIVEKIT_API_SECRET is 6 bytes" in ln]) == 1
