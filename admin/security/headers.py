"""Security headers on every response: a strict CSP (no inline script), no framing, nosniff."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(livekit_url: str | None = None) -> str:
    """Same-origin everything; the LiveKit server is the one outside origin the console needs."""
    connect = ["'self'"]
    if livekit_url:
        parts = urlsplit(livekit_url)
        if parts.scheme and parts.netloc:
            ws = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
            web = {"wss": "https", "ws": "http"}.get(ws, ws)
            connect += [f"{ws}://{parts.netloc}", f"{web}://{parts.netloc}"]
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """Adds the headers unless a route set its own value."""

    def __init__(self, app: ASGIApp, *, csp: str) -> None:
        self.app = app
        self.static = {
            "Content-Security-Policy": csp,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cross-Origin-Opener-Policy": "same-origin",
            # The console needs the microphone; nothing needs the rest.
            "Permissions-Policy": "microphone=(self), camera=(), geolocation=(), payment=()",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.static.items():
                    if name not in headers:
                        headers[name] = value
                if scope.get("scheme") == "https":
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                # Signed-in pages must not linger in shared caches or the back button.
                if not is_static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
