"""The production console when its Redis is down: a clear 503, not a 500 with a traceback."""

from __future__ import annotations

import socket
from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from tests.web.browser import live_server
from tests.web.conftest import SUPERVISOR, seed_users
from tests.web.sse import sign_in
from tests.web.support import PASSWORD


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_console_actions_with_redis_unreachable_answer_503_saying_what_to_check(
    engine: Engine, make_app: Callable[..., FastAPI],
) -> None:
    seed_users(engine)
    url = f"redis://:hunter2secret@127.0.0.1:{_closed_port()}/0"
    with live_server(make_app(engine, redis_url=url)) as base:
        sup, csrf = sign_in(base, SUPERVISOR, PASSWORD)
        r = sup.post("/console/presence", json={"status": "available"}, headers=csrf)
        assert r.status_code == 503, r.text
        detail = r.json()["detail"]
        assert "Redis" in detail and "REDIS_URL" in detail, detail
        assert "hunter2secret" not in r.text
        r = sup.post("/api/v1/calls/call-x/livekit-token", headers=csrf)
        assert r.status_code in (404, 409, 503), r.text
        assert "hunter2secret" not in r.text
