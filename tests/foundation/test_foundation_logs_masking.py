"""Credentials no setting holds (the worker's LiveKit JWT, URL tokens) never reach the logs.

The agent token is minted per connection, so it cannot be listed as a secret: it is masked
by its shape, in messages, exception reprs and tracebacks, at every level, from the standard
library and structlog; and JSON logs are JSON for every logger.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import aiohttp
import pytest
import structlog
from livekit import api
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from callcenter.config import load_settings
from callcenter.dispatch.connect_errors import describe_connect_error
from callcenter.logs import configure_logging, mask_shapes

JWT = (api.AccessToken("APIkey123", "s" * 32).with_grants(api.VideoGrants(agent=True))
       .to_jwt())
CRM = "https://ivr:crm-pass-9876@crm.example.com/hooks/catch/4242/zq8s3cr3tpath?token=crmtok123"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _handshake_error() -> aiohttp.WSServerHandshakeError:
    url = URL(f"wss://lk.example.com/agent?access_token={JWT}")
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": f"Bearer {JWT}"}))
    info = aiohttp.RequestInfo(url, "GET", headers, url)
    return aiohttp.WSServerHandshakeError(info, (), status=502, message=f"bad gateway {JWT}")


def _configure(monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    monkeypatch.setenv("LOG_FORMAT", fmt)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("CRM_WEBHOOK_URL", CRM)
    configure_logging(load_settings())


def _log_everything() -> None:
    exc = _handshake_error()
    worker = logging.getLogger("callcenter.dispatch.worker")
    worker.warning("%s; retrying", describe_connect_error(exc, "wss://lk.example.com/agent"))
    worker.debug("raw: %r", exc)
    try:
        raise ConnectionError(f"failed to connect to wss://lk.example.com/rtc?access_token={JWT}")
    except ConnectionError:
        worker.exception("call c1: could not join room call-1")
    logging.getLogger("callcenter.postcall").error("CRM POST %s failed", CRM)
    try:
        raise RuntimeError(f"headers {{'Authorization': 'Bearer {JWT}'}}")
    except RuntimeError:
        structlog.get_logger().exception("structlog failure", url=CRM)


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_agent_jwt_and_crm_url_tokens_are_masked_at_every_level(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    _configure(monkeypatch, fmt)
    _log_everything()
    err = capsys.readouterr().err
    assert "retrying" in err and "could not join room" in err and "structlog failure" in err
    assert "Traceback" in err or '"exception"' in err
    signature = JWT.rsplit(".", 1)[1]
    for secret in (JWT, signature, JWT.split(".")[1], "crm-pass-9876", "crmtok123",
                   "zq8s3cr3tpath"):
        assert secret not in err, (secret, err)


def test_with_json_format_standard_library_lines_are_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    _configure(monkeypatch, "json")
    _log_everything()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line, every logger
    assert len(events) == 5
    joined = next(e for e in events if "could not join room" in e["event"])
    assert joined["level"] == "error" and joined["logger"] == "callcenter.dispatch.worker"
    assert "ConnectionError" in joined["exception"] and JWT not in joined["exception"]
    assert all("timestamp" in e for e in events)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer ***"),
        ("redis://:hunter22@cache:6379/0", "redis://:***@cache:6379/0"),
        ("https://x.example/api?api_key=abc123&q=boots", "api_key=***&q=boots"),
        ("nothing secret in order 12345", "nothing secret in order 12345"),
    ],
)
def test_credential_shapes_are_masked_and_the_rest_is_kept(text: str, kept: str) -> None:
    assert kept in mask_shapes(text)
