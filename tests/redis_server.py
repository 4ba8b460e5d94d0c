"""A redis-server of a test's own, on a free port, that the test may crash and restart.

Fault tests stop Redis; they must never stop the machine's own (port 6379, shared with
other runs and people). This one runs from the test's temporary directory and is stopped
by its pid only. With `persist=True` it keeps its data across a crash (append-only file,
fsync on every write), like a production Redis, so a restart is an outage, not data loss.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_unavailable(message: str) -> None:
    """Fail under CI, skip elsewhere (with how to get the service)."""
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        service_unavailable("redis-server is not installed (apt-get install redis-server)")
    return str(binary)


class PrivateRedis:
    """A redis-server of the test's own, on a free port, stopped by its pid."""

    def __init__(self, binary: str, *, persist: bool = False) -> None:
        self.binary, self.port = binary, free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.persist = persist
        self.dir = tempfile.mkdtemp(prefix="cc-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        keep = (["--appendonly", "yes", "--appendfsync", "always"] if self.persist
                else ["--appendonly", "no"])
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", self.dir, *keep], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                    time.sleep(0.05)
            service_unavailable(f"our redis-server on port {self.port} did not start")
        finally:
            client.close()

    def stop(self) -> None:
        """Crash it (SIGKILL): with persist=False it keeps nothing."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
