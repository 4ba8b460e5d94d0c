"""Logging set-up: structlog on top of the standard library, JSON in production.

A last-line-of-defence processor masks every configured secret wherever it appears in a
log event, so a provider error that echoes a key back never reaches the log sink.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from callcenter.config import LogFormat, Settings

MASK = "***"


def secret_values(settings: Settings) -> list[str]:
    """All secret setting values long enough to be worth masking."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else None
        if raw and len(raw) >= 6:
            values.append(raw)
    return values


class SecretMasker:
    """structlog processor: replaces known secret values in every string of an event."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret that contains another is masked whole.
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not self._secrets:
            return event
        for key, value in event.items():
            if isinstance(value, str):
                event[key] = self.mask(value)
            elif isinstance(value, BaseException):
                event[key] = self.mask(repr(value))
        return event


class _MaskingFilter(logging.Filter):
    """Masks secrets in plain stdlib records too (libraries log through logging)."""

    def __init__(self, masker: SecretMasker) -> None:
        super().__init__()
        self._masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._masker.mask(record.getMessage())
        record.args = None
        return True


def configure_logging(settings: Settings) -> None:
    """Configure structlog and stdlib logging once per process."""
    masker = SecretMasker(secret_values(settings))
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        masker,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(settings.log_level)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_MaskingFilter(masker))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
