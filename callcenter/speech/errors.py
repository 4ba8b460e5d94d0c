"""How speech providers fail, and the secret masking every message goes through.

`SpeechError` is what any provider (cloud, offline engine, fake) raises; the voice session
and the flow catch only that. A cloud provider raises a `ProviderError`, which also says
*why* it failed (`reason`), so the fallback adapter can decide how long to leave the provider
alone (a 429 honours the server's Retry-After; an auth error will not heal by itself). Every
message is built with `mask_secrets`, so an API key never reaches a log line or an exception
string.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from enum import StrEnum
from time import time
from typing import Any


class SpeechError(Exception):
    """A provider failed. `provider` names it; `retryable` says whether a fallback should try.

    `permanent`: sending the same request to the same provider again cannot succeed until
    someone changes its configuration (a rejected key, an unknown model or voice), so
    nobody retries it: not post-call's task retries, not the fallback's last resort.
    """

    permanent = False

    def __init__(self, provider: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.retryable = retryable


class FailureReason(StrEnum):
    AUTH = "auth"  # 401/403: the key is wrong; retrying will not help
    RATE_LIMITED = "rate_limited"  # 429: wait for Retry-After
    SERVER = "server"  # 5xx
    BAD_REQUEST = "bad_request"  # 4xx other than the above: our request is wrong
    CONNECT = "connect"  # DNS, refused, TLS, connect timeout
    DROPPED = "dropped"  # the socket closed mid-stream
    STALL = "stall"  # no first result within the stall timeout
    PROTOCOL = "protocol"  # the provider sent something we cannot read


class ProviderError(SpeechError):
    """A classified provider failure. `retry_after` (seconds) is set for 429s that said so."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        reason: FailureReason,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        retryable = reason not in (FailureReason.BAD_REQUEST,)
        super().__init__(provider, message, retryable=retryable)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        # 401/403: the key; 404: the model, voice or endpoint named in the settings.
        self.permanent = reason is FailureReason.AUTH or status == 404


# An auth header/field followed by a key-like run (long enough not to eat ordinary words).
_KEYISH = re.compile(
    r"(?i)(bearer\s+|token\s+|xi-api-key[\"':=\s]+|api[_-]?key[\"':=\s]+)[A-Za-z0-9._~+/=-]{12,}"
)


def mask_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace every known secret (and anything that looks like an auth header value) by '***'."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEYISH.sub(lambda m: m.group(1) + "***", text)


def auth_error(provider: str, env_var: str, status: int) -> ProviderError:
    """401/403: tell the operator which environment variable to fix."""
    return ProviderError(
        provider,
        f"the API key was rejected (HTTP {status}): check {env_var} "
        "(set it in the environment or .env; `callcenter providers check` tests it)",
        reason=FailureReason.AUTH,
        status=status,
    )


def error_for_status(
    provider: str,
    env_var: str,
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """Map an HTTP status from a provider to a classified, masked `ProviderError`."""
    if status in (401, 403):
        return auth_error(provider, env_var, status)
    detail = mask_secrets(detail, secrets)[:300]
    if status == 429:
        retry_after = parse_retry_after(headers or {})
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return ProviderError(
            provider,
            f"rate limited (HTTP 429){wait}: {detail}",
            reason=FailureReason.RATE_LIMITED,
            status=status,
            retry_after=retry_after,
        )
    if status >= 500:
        return ProviderError(
            provider, f"server error (HTTP {status}): {detail}", reason=FailureReason.SERVER,
            status=status,
        )
    return ProviderError(
        provider, f"request rejected (HTTP {status}): {detail}", reason=FailureReason.BAD_REQUEST,
        status=status,
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


class MaskingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger for third-party clients (e.g. `websockets`) that log handshake headers.

    Formats each record itself so the secret can be masked out of the arguments too.
    """

    def __init__(self, logger: logging.Logger, secrets: Iterable[str | None]) -> None:
        super().__init__(logger, {})
        self._secrets = [s for s in secrets if s]

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, mask_secrets(text, self._secrets), **kwargs)
