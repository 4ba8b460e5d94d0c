"""Sign a LiveKit webhook body the way the server does (JWT with the body's SHA-256)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.webhook import WebhookEvent


def webhook_body(event: WebhookEvent) -> str:
    """The protojson body LiveKit posts."""
    return MessageToJson(event, indent=None)


def sign_webhook(
    body: str | bytes, api_key: str, api_secret: str, *, ttl: timedelta = timedelta(minutes=5)
) -> str:
    """The `Authorization` header value (no `Bearer`) for `body`."""
    raw = body.encode() if isinstance(body, str) else body
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode()
    token = api.AccessToken(api_key, api_secret).with_ttl(ttl)
    token.claims.sha256 = digest
    return token.to_jwt()
