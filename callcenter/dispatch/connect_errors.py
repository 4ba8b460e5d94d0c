"""One clear log line for a failed connection to LiveKit: what went wrong and what to do.

aiohttp's own messages (`ClientConnectorError(ConnectionKey(host=..., ssl=..., proxy=...),
ConnectionRefusedError(...))`) say neither which setting is wrong nor what to change, and
they repeat on every reconnect. Nothing here puts a token or secret into the message.
"""

from __future__ import annotations

import errno

import aiohttp
from livekit import api

_OS_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}


def describe_connect_error(exc: BaseException, url: str) -> str:
    """A one-line explanation of `exc`, raised while reaching the LiveKit server at `url`."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return (f"cannot reach LiveKit at {url}: host name {exc.host!r} does not resolve; "
                "check LIVEKIT_URL")
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = _OS_REASONS.get(exc.errno or 0) or exc.strerror or type(exc.os_error).__name__
        return (f"cannot reach LiveKit at {url} ({reason}): start the server or correct "
                "LIVEKIT_URL")
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        if exc.status in (401, 403):
            return (f"LiveKit at {url} refused this worker's token (HTTP {exc.status}): "
                    "LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be a key pair of that server")
        return (f"LiveKit at {url} answered HTTP {exc.status} to the agent websocket: "
                "point LIVEKIT_URL at the LiveKit server itself (not a proxy or the SIP service)")
    if isinstance(exc, TimeoutError):
        return (f"no answer from LiveKit at {url} in time: check the server's load and the "
                "network to it")
    if isinstance(exc, api.ServerError) and exc.status in (401, 403):
        return (f"LiveKit at {url} refused the API token ({exc.code}): LIVEKIT_API_KEY and "
                "LIVEKIT_API_SECRET must be a key pair of that server")
    return f"connection to LiveKit at {url} failed: {type(exc).__name__}: {exc}"
