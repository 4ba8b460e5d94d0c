"""Server-sent events read over a real HTTP connection (httpx), for the console tests."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

Event = tuple[str, str]  # (event name, data)


def sign_in(base: str, email: str, password: str) -> tuple[httpx.Client, dict[str, str]]:
    """A client signed in through the real form, and the CSRF header for its posts."""
    client = httpx.Client(base_url=base, timeout=20.0)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token, "no CSRF field on /login"
    r = client.post("/login", data={"email": email, "password": password,
                                    "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text[:500]
    meta = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert meta, "no csrf-token meta on the home page"
    return client, {"X-CSRF-Token": meta.group(1)}


def _events(lines: Iterator[str]) -> Iterator[Event]:
    name, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


@contextmanager
def stream(client: httpx.Client, path: str) -> Iterator[Iterator[Event]]:
    with client.stream("GET", path, headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200, response.read()[:500]
        yield _events(response.iter_lines())


def read_until(events: Iterator[Event], done: Callable[[list[Event]], bool],
               timeout_s: float) -> list[Event]:
    """Events until `done(all so far)` holds; fails with what came when time runs out."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout_s
    for ev in events:
        seen.append(ev)
        if done(seen):
            return seen
        assert time.monotonic() < deadline, [e[0] + ": " + e[1][:200] for e in seen]
    raise AssertionError(f"the stream ended: {seen}")
