"""Logging set-up: structlog on top of the standard library, JSON in production.

A last-line-of-defence masker runs on every log event, message, exception text and
traceback, from structlog and from the standard library alike. It replaces every configured
secret, and things that are secrets by their shape even though no setting holds them: JWTs
(the worker's LiveKit agent token is minted per connection and valid for hours),
Authorization header values, passwords in URLs and token-like query parameters. With
`LOG_FORMAT=json` every line is one JSON object, whichever library logged it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import structlog

from callcenter.config import LogFormat, Settings

MASK = "***"

# Settings that are URLs an operator may put a credential into (userinfo, query, or, for a
# webhook, the path itself: many CRM "catch hooks" are secret URLs).
_URL_SETTINGS = ("database_url", "redis_url", "livekit_url", "openai_base_url",
                 "deepgram_base_url", "elevenlabs_base_url")
_SECRET_URL_SETTINGS = ("crm_webhook_url",)

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}")
_AUTH_HEADER = re.compile(
    r"(?i)(\b(?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?"
    r"(?:bearer|basic|token|digest)?\s*)[^\s'\",}]+")
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)[^/\s@'\"]+@", re.I)
_QUERY_TOKEN = re.compile(
    r"(?i)([?&](?:access_token|token|api[_-]?key|key|secret|password|passwd|pwd|sig|"
    r"signature|auth|code|client_secret)=)[^&\s'\"#]+")


def secret_values(settings: Settings) -> list[str]:
    """All secret setting values long enough to be worth masking."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else None
        if raw and len(raw) >= 6:
            values.append(raw)
    for name in (*_URL_SETTINGS, *_SECRET_URL_SETTINGS):
        url = getattr(settings, name, None)
        if isinstance(url, str) and url:
            values += _url_secrets(url, whole=name in _SECRET_URL_SETTINGS)
    return values


def _url_secrets(url: str, *, whole: bool) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url] if whole else []
    found = [parts.password or ""] + [v for _k, v in parse_qsl(parts.query)]
    if whole:
        # The path (and so the whole URL) may be the credential; keep scheme and host.
        found += [url, parts.path.strip("/")]
    return [v for v in found if len(v) >= 6]


def mask_shapes(text: str) -> str:
    """Mask what looks like a credential (JWT, Authorization value, URL password, token=)."""
    text = _JWT.sub(lambda m: m.group()[:3] + MASK, text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    return _QUERY_TOKEN.sub(lambda m: m.group(1) + MASK, text)


class SecretMasker:
    """structlog processor: replaces secrets in every string of an event."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret that contains another is masked whole.
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return mask_shapes(text)

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event.items():
            if isinstance(value, str):
                event[key] = self.mask(value)
            elif isinstance(value, BaseException):
                event[key] = self.mask(repr(value))
        return event


class _MaskingFilter(logging.Filter):
    """Masks secrets in plain stdlib records too, tracebacks included."""

    def __init__(self, masker: SecretMasker, formatter: logging.Formatter) -> None:
        super().__init__()
        self._masker = masker
        self._formatter = formatter

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._masker.mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatted here so the masked text is what every formatter prints (the
            # exception's own message often carries the URL or header that failed).
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._masker.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._masker.mask(record.stack_info)
        return True


def configure_logging(settings: Settings) -> None:
    """Configure structlog and stdlib logging once per process."""
    masker = SecretMasker(secret_values(settings))
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    json_logs = settings.log_format == LogFormat.JSON
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        # The masker runs after tracebacks are rendered to text, so they are masked too.
        processors=[*shared, structlog.processors.format_exc_info, masker, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(settings.log_level)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    plain = logging.Formatter()  # the message alone, as before
    if json_logs:
        # Library and stdlib lines as the same JSON objects as structlog's own.
        handler.setFormatter(structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info, masker, renderer],
        ))
    else:
        handler.setFormatter(plain)
    handler.addFilter(_MaskingFilter(masker, plain))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
